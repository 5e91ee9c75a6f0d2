# Every target creates the virtual environment first when it is missing
# (or when requirements.txt / pyproject.toml changed since it was made).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
export MPLBACKEND ?= Agg
export PYTHONHASHSEED ?= 0

ASSETS := assets/node_modules/.installed

.PHONY: lab test unit notebooks course slides student bench browser clean-venv

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# reveal.js, MathJax, require.js and jQuery for pages that work offline (assets/README.md).
$(ASSETS): assets/package.json assets/package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js) is needed once to fetch the offline slide assets"; exit 1; }
	npm ci --prefix assets --no-audit --no-fund --silent
	touch $@

# The browser tests drive Debian's Chromium; CI runs as root and installs it.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null \
	|| { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	       apt-get install -y -qq chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; \
	     else echo "install Chromium (Debian: apt-get install chromium) for the browser tests"; exit 1; fi; }

# JupyterLab draws figures inline (the Agg default above is for tests and scripts).
INLINE := MPLBACKEND=module://matplotlib_inline.backend_inline

lab: $(STAMP)
	$(INLINE) $(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

# Unit tests, every notebook under nbval, and the student edition (solutions
# removed) under nbval too, so it is proven to run top to bottom: one run, one summary.
# JOBS pytest-xdist workers; --dist loadfile keeps each file (a notebook's cells,
# a test file's fixtures) in one worker, in order; a lesson's browser tests run
# after its cells, on the copy nbval's run left in build/executed/ (conftest.py).
# JOBS=0 runs serially.
JOBS ?= 2
test: $(STAMP) $(ASSETS) browser
	rm -rf build/student && $(PY) -m lessons_lib.course student notebooks build/student > /dev/null
	$(PY) -m pytest tests notebooks build/student --nbval-lax --nbval-current-env -p no:cacheprovider \
		-n $(JOBS) --dist loadfile

unit: $(STAMP)
	$(PY) -m pytest tests -p no:cacheprovider

notebooks: $(STAMP)
	$(PY) -m pytest notebooks --nbval-lax --nbval-current-env -p no:cacheprovider

# Each lesson runs once (build/executed/ is reused while nothing changed); pages
# and decks load nothing from the network.
course: $(STAMP) $(ASSETS)
	$(PY) -m lessons_lib.publish html notebooks build/html

slides: $(STAMP) $(ASSETS)
	$(PY) -m lessons_lib.publish slides notebooks build/slides

student: $(STAMP)
	$(PY) -m lessons_lib.course student notebooks build/student

bench: $(STAMP)
	$(PY) -m benchmarks

clean-venv:
	rm -rf $(VENV)
