# syntax=docker/dockerfile:1
# vLLM's OpenAI-compatible server for Dojangkok: EleutherAI/polyglot-ko-5.8b with the checklist, contract and risk
# LoRA adapters, on port 8001. Build context: services/vllm (launch.py + serve.json, the launch configuration).
#
#   docker build -f dockerfiles/vllm.Dockerfile services/vllm                 # the server image
#   docker build -f dockerfiles/vllm.Dockerfile --target test services/vllm   # check the launch configuration
#
# The base is x86_64 + CUDA only, hence the fixed platform. VLLM_IMAGE may be swapped for a local stand-in base
# with python3 (the tests and the launch script use only the standard library).
ARG VLLM_IMAGE=vllm/vllm-openai:v0.4.0

# --- test: the launch configuration renders the command line the seed asks for ---------------------------------
# hadolint ignore=DL3029
FROM --platform=linux/amd64 ${VLLM_IMAGE} AS test
WORKDIR /opt/dojangkok/vllm
COPY launch.py serve.json ./
COPY tests/ ./tests/
RUN python3 -m unittest discover -s tests -v && python3 launch.py --print

# --- runtime (default target) -----------------------------------------------------------------------------------
# hadolint ignore=DL3029
FROM --platform=linux/amd64 ${VLLM_IMAGE}
# The model is fetched into HF_HOME on first start; adapters are mounted under /models/lora (serve.json).
ENV HF_HOME=/models/huggingface \
    VLLM_SERVE_CONFIG=/opt/dojangkok/vllm/serve.json
RUN groupadd --system --gid 10001 vllm \
    && useradd --system --uid 10001 --gid vllm --home-dir /models --no-create-home --shell /usr/sbin/nologin vllm \
    && mkdir -p /models/huggingface /models/lora \
    && chown -R 10001:10001 /models
WORKDIR /opt/dojangkok/vllm
COPY launch.py serve.json ./
USER 10001:10001
EXPOSE 8001
# Loading 12 GB of weights onto the GPU takes minutes: a long start period before failures count.
HEALTHCHECK --interval=30s --timeout=5s --start-period=600s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8001/health', timeout=4)"]
ENTRYPOINT ["python3", "/opt/dojangkok/vllm/launch.py"]
