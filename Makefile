# The two commands of the README:
#   make demo   set everything up, then run the end-to-end demo
#   make test   set everything up, then run the tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_ARGS ?=

.PHONY: demo test lint clean

$(STAMP): requirements.txt requirements-ros-wheels.txt requirements-dev.txt setup.py package.xml \
		scripts/install-system-deps.sh
	sh scripts/install-system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-ros-wheels.txt \
		-r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/grasp-seg demo $(DEMO_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest test

lint: $(STAMP)
	$(BIN)/flake8 grasp_seg_ros test launch setup.py

clean:
	rm -rf $(VENV) build install log demo_output *.egg-info
