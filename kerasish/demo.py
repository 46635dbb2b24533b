"""The default demo: a small CNN on scikit-learn's digits (shipped with scikit-learn, no network).

Run it with ``python -m kerasish.demo [--epochs N]``.
"""

from __future__ import annotations

import argparse

import numpy as np


def load_digits_split(seed: int = 0):
    """scikit-learn's 8×8 digits as (x_train, y_train), (x_test, y_test): images in [0, 1], stratified 80/20."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    y = digits.target.astype(np.int32)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, stratify=y, random_state=seed)
    return (x_train, y_train), (x_test, y_test)


def build_model():
    import kerasish
    from kerasish import layers

    return kerasish.Sequential([
        kerasish.Input(shape=(8, 8, 1)),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(10, activation="softmax"),
    ], name="digits_cnn")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description="Train a small CNN on scikit-learn's digits (offline).")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import kerasish

    kerasish.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load_digits_split(args.seed)
    print(f"Data: scikit-learn digits (offline), {len(x_train)} train / {len(x_test)} test images of 8x8.")
    model = build_model()
    model.summary()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, validation_split=0.1, verbose=2)
    results = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    print(f"Test accuracy: {results['accuracy']:.4f}  test loss: {results['loss']:.4f}")
    return results


def cli() -> None:
    """Console entry point (``kerasish-demo``): exit status 0 on success."""
    main()


if __name__ == "__main__":
    cli()
