# sluice: a static binary on distroless/static, run as a non-root user.
#
#   docker build -t sluice .
#   docker run --rm -p 8080:8080 -p 9090:9090 sluice serve --listen 0.0.0.0:8080 --admin 0.0.0.0:9090
#
# The build stage stamps the version, commit and modified flag (sluice
# version, sluice_build_info) from the checkout's .git, which the build
# context therefore includes.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO off: a static binary that needs no libc in the image.
RUN CGO_ENABLED=0 GOFLAGS=-buildvcs=auto go build -trimpath -ldflags='-s -w' -o /out/sluice ./cmd/sluice

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sluice /usr/local/bin/sluice
# distroless's nonroot user (65532), which deploy/kubernetes runs as too.
USER 65532:65532
# The gateway (gRPC, gRPC-Web, Connect, REST) and the admin port
# (/healthz, /readyz, /metrics).
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/sluice"]
CMD ["serve", "--config", "/etc/sluice/sluice.yaml"]
