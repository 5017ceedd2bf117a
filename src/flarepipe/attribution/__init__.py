"""Attribution: what each trained network looked at, and whether that is the planted cause.

The last stage of the chain (rules/attribute.smk). Modules:

* :mod:`.inputs` -- the one adapter to the moving parts (checkpoints, shards, features, the
  synthetic archive's planted causes and bipole field);
* :mod:`.methods` -- captum methods by name (IG, DeepLIFT, guided backprop, deconvolution,
  Grad-CAM, negative-class Grad-CAM, occlusion);
* :mod:`.postprocess` -- upsampling (second-order spline), |.| 0-1 normalisation, smoothing;
* :mod:`.analysis` -- sample selection, planted-truth scores, PIL statistics, randomisation check;
* :mod:`.probes` -- synthetic bipolar-region and uniform-bipole probes;
* :mod:`.figures` -- figures and movies;
* :mod:`.job`, :mod:`.summary` -- the per-run job and the summary over runs;
* :mod:`.settings` -- the ``attribution`` configuration section with the schema's defaults.

Depends on models/tasks/data/core (and the archive layout); nothing in flarepipe imports it
except ``flarepipe.stages.attribute``.
"""
