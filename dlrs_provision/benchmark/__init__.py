"""The benchmark: the TF_CONFIG launcher, the synthetic ResNet50, results and the thread sweep.

launcher.py and synthetic.py run inside the benchmark containers (shipped in the TFJob's
ConfigMap), so they use the standard library only (synthetic.py also TensorFlow); the launcher
imports the tuning calculator, which is shipped beside it.
"""
