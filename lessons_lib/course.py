"""Where the course lives. The public repository address is written here and
nowhere else: notebook badges and the Colab install line are built from it."""

REPOSITORY = "optml-in-practice/optimization-for-ml-in-practice"
BRANCH = "main"
GITHUB_URL = f"https://github.com/{REPOSITORY}"


def colab_url(notebook):
    """Address that opens `notebook` (e.g. "02_gradient_descent.ipynb") on Colab."""
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/notebooks/{notebook}"


def colab_badge(notebook):
    """Markdown for the "Open in Colab" badge of `notebook`."""
    image = "https://colab.research.google.com/assets/colab-badge.svg"
    return f"[![Open In Colab]({image})]({colab_url(notebook)})"


def pip_install_line():
    """What the setup cell runs on Colab: lessons_lib only, never torch/TF/NumPy."""
    return f"pip install -q --no-deps git+{GITHUB_URL}@{BRANCH}"
