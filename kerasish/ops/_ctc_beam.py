"""CTC beam-search decoding (``ops.ctc_decode(strategy="beam_search")``)."""

from __future__ import annotations

from kerasish.errors import InputError


def beam_search(inputs, lengths, beam_width, top_paths, mask_index):
    raise InputError("ops.ctc_decode: strategy='beam_search' is not available in kerasish yet; use "
                     "strategy='greedy' (the default).")
