"""The compatibility corpus: public Keras 3 scripts, each run over Keras 3 and over kerasish (see _harness.py)."""
