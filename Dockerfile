# cityscan as a container image: a sensor on one network segment (docs/deploying.md).
#
#   docker build -t cityscan:0.1.0 .
#   docker run --rm --network host --cap-drop ALL --cap-add NET_RAW \
#     -v cityscan-data:/var/lib/cityscan -v /etc/cityscan:/etc/cityscan:ro \
#     cityscan:0.1.0 scan --config /etc/cityscan/scan.yaml
#
# It runs as the unprivileged user `cityscan`. Only nmap holds a capability, CAP_NET_RAW, as a
# file capability: raw sockets for SYN probes and ARP, which give the devices' MAC addresses.
# CAP_NET_ADMIN is not needed, and leaving it out keeps the image working with a container
# engine's default capability set (a file capability outside the bounding set makes exec fail).
# Do not add `--security-opt no-new-privileges`: it disables file capabilities, and nmap then
# falls back to connect() probes without MAC addresses.

FROM python:3.11-slim-bookworm

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG DEBIAN_FRONTEND=noninteractive

# nmap from Debian; setcap from libcap2-bin, removed again once nmap has its capability.
# Debian versions are not pinned: the base image's tag pins the release, and a pin would block
# its security updates.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends nmap libcap2-bin \
 && setcap cap_net_raw=ep /usr/bin/nmap \
 && getcap /usr/bin/nmap | grep -q cap_net_raw \
 && apt-get purge -y --auto-remove libcap2-bin \
 && rm -rf /var/lib/apt/lists/*

# The unprivileged user, with a fixed uid so that volumes and Kubernetes' runAsNonRoot can rely on it.
RUN groupadd --system --gid 10001 cityscan \
 && useradd --system --uid 10001 --gid cityscan --home-dir /var/lib/cityscan --shell /usr/sbin/nologin cityscan \
 && install -d -o cityscan -g cityscan -m 0700 /var/lib/cityscan

# The package, with its dependencies pinned by constraints.txt, in a virtual environment. gcc is
# there only while pip builds the compiled core of the flows reader (3-4x faster on a city's Zeek
# logs; the install would fall back to pure Python without it), and the build is checked.
WORKDIR /src
COPY pyproject.toml README.md LICENSE constraints.txt ./
COPY scanner ./scanner
COPY fingerprints ./fingerprints
COPY sample_configs ./sample_configs
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && python -m venv /opt/cityscan \
 && /opt/cityscan/bin/pip install --no-cache-dir --disable-pip-version-check -c constraints.txt . \
 && /opt/cityscan/bin/python -c "import scanner.collect.flows._native_groups" \
 && /opt/cityscan/bin/cityscan --version \
 && apt-get purge -y --auto-remove gcc libc6-dev \
 && rm -rf /src /var/lib/apt/lists/*

ENV PATH=/opt/cityscan/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/var/lib/cityscan \
    XDG_CACHE_HOME=/var/lib/cityscan/cache \
    CITYSCAN_STORE=/var/lib/cityscan/scans.db \
    NMAP_PRIVILEGED=1

LABEL org.opencontainers.image.title="cityscan" \
      org.opencontainers.image.description="Compliance scanner for municipal networks" \
      org.opencontainers.image.licenses="Apache-2.0"

# The scan history (SQLite) and the look-up cache; reports are written where --output says.
VOLUME ["/var/lib/cityscan"]
WORKDIR /var/lib/cityscan
USER 10001:10001

ENTRYPOINT ["cityscan"]
CMD ["--help"]
