# Every target creates the virtual environment first when it is missing
# (or when requirements.txt / pyproject.toml changed since it was made).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
export MPLBACKEND ?= Agg
export PYTHONHASHSEED ?= 0

.PHONY: lab test unit notebooks course slides student bench clean-venv

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

lab: $(STAMP)
	$(INLINE) $(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

# Unit tests, every notebook under nbval, and the student edition (solutions
# removed) under nbval too, so it is proven to run top to bottom: one run, one summary.
test: $(STAMP)
	rm -rf build/student && $(PY) -m lessons_lib.course student notebooks build/student > /dev/null
	$(PY) -m pytest tests notebooks build/student --nbval-lax --nbval-current-env -p no:cacheprovider

unit: $(STAMP)
	$(PY) -m pytest tests -p no:cacheprovider

notebooks: $(STAMP)
	$(PY) -m pytest notebooks --nbval-lax --nbval-current-env -p no:cacheprovider

# Executed copies need the inline backend, or the figures are drawn to nowhere.
INLINE := MPLBACKEND=module://matplotlib_inline.backend_inline

course: $(STAMP)
	$(INLINE) $(VENV)/bin/jupyter nbconvert --to html --execute --output-dir build/html notebooks/[0-9][0-9]_*.ipynb

slides: $(STAMP)
	$(INLINE) $(VENV)/bin/jupyter nbconvert --to slides --execute --SlidesExporter.reveal_scroll=True \
		--output-dir build/slides notebooks/[0-9][0-9]_*.ipynb

student: $(STAMP)
	$(PY) -m lessons_lib.course student notebooks build/student

bench: $(STAMP)
	$(PY) -m benchmarks

clean-venv:
	rm -rf $(VENV)
