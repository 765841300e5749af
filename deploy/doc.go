// Package deploy holds what runs sluice in production: Kubernetes
// manifests (deploy/kubernetes, a kustomization) and a Grafana dashboard
// for its metrics (deploy/grafana). It has no Go code; its tests keep the
// manifests true to sluice's real defaults, admin endpoints and
// configuration, and the dashboard's queries to the metrics sluice
// exports.
package deploy
