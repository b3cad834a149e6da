"""tutorial_lib: the helper library of the course "Generative Models, Hands-On".

Modules: runtime (device, seeds, fast mode), data (MNIST, 2-D mixtures), plotting, vae, gan, train,
metrics, widgets, checks. Import what a lesson needs, e.g. ``from tutorial_lib.data import load_mnist``.
"""

__version__ = "0.1.0"

#: The course's GitHub repository ("owner/name"): the one place the Binder/Colab badges and the
#: Colab install cells take it from (tests check every notebook against it).
REPO = "generative-models-hands-on/course"
REPO_URL = f"https://github.com/{REPO}"
BRANCH = "main"
