"""Kernels: the fast paths of the models' hot loops, kept apart from the models that call them.

Each kernel has a plain reference beside it (the few obvious lines of torch it must agree with) and an
equivalence test against that reference:

* `sampling`: blocked inverse-CDF sampling (`sample_from_logits`, `sample_from_hidden`);
  reference `reference_sample_from_logits`, tests in tests/test_generator.py.
* `fused`: output projection fused with the NLL and its gradients (`token_nll`, `weighted_nll`);
  references `reference_token_nll`, `reference_weighted_nll`, tests in tests/test_fused.py.
* `conv`: convolutions as GEMMs over shared windows, max-pool, bias + ReLU, dropout (`ConvMaxPool`);
  reference `reference_forward` (Conv1d per width), tests in tests/test_discriminator.py.
"""
