# syntax=docker/dockerfile:1
# vLLM's OpenAI-compatible server for Dojangkok: EleutherAI/polyglot-ko-5.8b with the checklist, contract and risk
# LoRA adapters, on port 8001. Build context: services/vllm (launch.py + serve.json, the launch configuration).
#
#   docker build -f dockerfiles/vllm.Dockerfile services/vllm                 # the server image
#   docker build -f dockerfiles/vllm.Dockerfile --target test services/vllm   # check the launch configuration
#
# The base is x86_64 + CUDA only, hence the fixed platform. VLLM_IMAGE may be swapped for a local stand-in base
# with python3 and pip (the tests, the release check and the launch script use only the standard library).
# v0.32.0 is the first release that serves LoRA adapters on GPT-NeoX (polyglot-ko), through its Transformers
# backend; v0.4.0, the seed's pin, refuses --enable-lora for that architecture (check_release.py says so).
ARG VLLM_IMAGE=vllm/vllm-openai:v0.32.0

# --- test: the launch configuration renders the command line the seed asks for, and the release starts it -------
# hadolint ignore=DL3029
FROM --platform=linux/amd64 ${VLLM_IMAGE} AS test
ARG VLLM_IMAGE
WORKDIR /opt/dojangkok/vllm
COPY launch.py serve.json model.json check_release.py ./
COPY tests/ ./tests/
RUN python3 -m unittest discover -s tests -v && python3 launch.py --print
# The configuration against the code of the image's own vLLM release: its wheel, read as source (no GPU).
# hadolint ignore=DL3013
RUN version="${VLLM_IMAGE##*:v}" \
 && case "$version" in *[!0-9.]*|"") echo "VLLM_IMAGE must end in :vX.Y.Z, got $VLLM_IMAGE" >&2; exit 1;; esac \
 && python3 -m pip download --quiet --no-cache-dir --no-deps --dest /tmp/vllm-release "vllm==$version" \
 && python3 check_release.py /tmp/vllm-release/vllm-*.whl \
 && rm -rf /tmp/vllm-release

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
