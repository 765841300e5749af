package deploy_test

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/telemetry/metrics"
)

const manifests = "kubernetes"

// decodeStrict decodes a manifest into v as the API server's strict field
// validation does: unknown fields, duplicate fields and fields in the
// wrong case (readOnlyRootFileSystem) are errors, not silently dropped.
func decodeStrict(t *testing.T, file string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(manifests, file))
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	strict, err := kjson.UnmarshalStrict(js, v)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	for _, e := range strict {
		t.Errorf("%s: %v", file, e)
	}
}

type manifestSet struct {
	configMap  corev1.ConfigMap
	deployment appsv1.Deployment
	service    corev1.Service
	pdb        policyv1.PodDisruptionBudget
	hpa        autoscalingv2.HorizontalPodAutoscaler
	cfg        *config.Config
}

func loadManifests(t *testing.T) *manifestSet {
	t.Helper()
	var m manifestSet
	decodeStrict(t, "configmap.yaml", &m.configMap)
	decodeStrict(t, "deployment.yaml", &m.deployment)
	decodeStrict(t, "service.yaml", &m.service)
	decodeStrict(t, "pdb.yaml", &m.pdb)
	decodeStrict(t, "hpa.yaml", &m.hpa)
	for _, obj := range []struct{ got, wantAPI, wantKind string }{
		{m.configMap.APIVersion + " " + m.configMap.Kind, "v1", "ConfigMap"},
		{m.deployment.APIVersion + " " + m.deployment.Kind, "apps/v1", "Deployment"},
		{m.service.APIVersion + " " + m.service.Kind, "v1", "Service"},
		{m.pdb.APIVersion + " " + m.pdb.Kind, "policy/v1", "PodDisruptionBudget"},
		{m.hpa.APIVersion + " " + m.hpa.Kind, "autoscaling/v2", "HorizontalPodAutoscaler"},
	} {
		if obj.got != obj.wantAPI+" "+obj.wantKind {
			t.Errorf("manifest is %q, want %s %s", obj.got, obj.wantAPI, obj.wantKind)
		}
	}
	text, ok := m.configMap.Data["sluice.yaml"]
	if !ok {
		t.Fatal("the ConfigMap has no sluice.yaml")
	}
	cfg, err := config.Parse([]byte(text), "configmap.yaml:sluice.yaml")
	if err != nil {
		t.Fatalf("the ConfigMap's configuration does not pass sluice's validation:\n%v", err)
	}
	m.cfg = cfg
	return &m
}

func port(t *testing.T, addr string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return int32(n)
}

// The manifests decode strictly into Kubernetes' own types, and agree with
// sluice: the container ports are the configuration's listen and admin
// ports (sluice's default ports), the probes hit the admin endpoints
// sluice serves, the grace period covers shutdown_grace and the preStop
// sleep, and every selector picks the Deployment's pods.
func TestKubernetesManifests(t *testing.T) {
	t.Parallel()
	m := loadManifests(t)
	defaults := config.Default()

	listen, admin := port(t, m.cfg.Listen), port(t, m.cfg.AdminAddr())
	if listen != port(t, defaults.Listen) || admin != port(t, defaults.Admin) {
		t.Errorf("the ConfigMap moves the ports to %d and %d; sluice's defaults are %s and %s", listen, admin, defaults.Listen, defaults.Admin)
	}
	for _, addr := range []string{m.cfg.Listen, m.cfg.AdminAddr()} {
		if host, _, _ := net.SplitHostPort(addr); host != "0.0.0.0" && host != "" && host != "::" {
			t.Errorf("%s listens on %s only: the kubelet and the Service cannot reach it", addr, host)
		}
	}

	pod := m.deployment.Spec.Template
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["http"] != listen || ports["admin"] != admin {
		t.Errorf("container ports %v, want http %d and admin %d", ports, listen, admin)
	}
	if !slices.Contains(c.Args, "/etc/sluice/sluice.yaml") || !slices.Contains(c.Args, "serve") {
		t.Errorf("container args %v do not serve the mounted configuration", c.Args)
	}

	// The probe paths are the admin handler's: check them against it.
	probe := func(name string, p *corev1.Probe, want string) {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe: want an HTTP GET on the admin port", name)
			return
		}
		if p.HTTPGet.Path != want || (p.HTTPGet.Port.String() != "admin" && p.HTTPGet.Port.IntValue() != int(admin)) {
			t.Errorf("%s probe: GET %s on port %s, want %s on the admin port", name, p.HTTPGet.Path, p.HTTPGet.Port.String(), want)
		}
	}
	probe("readiness", c.ReadinessProbe, "/readyz")
	probe("liveness", c.LivenessProbe, "/healthz")
	checkAdminPaths(t, "/readyz", "/healthz", "/metrics")

	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Fatal("no preStop sleep: endpoints would still send calls to a pod that stopped accepting them")
	}
	sleep := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	grace := time.Duration(m.cfg.Server.ShutdownGrace)
	if pod.Spec.TerminationGracePeriodSeconds == nil {
		t.Fatal("no terminationGracePeriodSeconds")
	}
	if term := time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second; term <= grace+sleep {
		t.Errorf("terminationGracePeriodSeconds %v is not above shutdown_grace %v plus the preStop sleep %v", term, grace, sleep)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Errorf("resource requests %v: want cpu and memory (the autoscaler needs the cpu request)", c.Resources.Requests)
	}
	if sc := pod.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Error("the pod does not require a non-root user")
	}
	var mounted bool
	for _, v := range pod.Spec.Volumes {
		mounted = mounted || (v.ConfigMap != nil && v.ConfigMap.Name == m.configMap.Name)
	}
	if !mounted {
		t.Errorf("the ConfigMap %q is not mounted", m.configMap.Name)
	}

	labels := pod.Labels
	matches := func(what string, sel map[string]string) {
		if len(sel) == 0 {
			t.Errorf("%s selects nothing", what)
		}
		for k, v := range sel {
			if labels[k] != v {
				t.Errorf("%s selects %s=%s, which the pods do not have", what, k, v)
			}
		}
	}
	matches("the Deployment", m.deployment.Spec.Selector.MatchLabels)
	matches("the Service", m.service.Spec.Selector)
	matches("the PodDisruptionBudget", m.pdb.Spec.Selector.MatchLabels)
	svcPorts := map[string]string{}
	for _, p := range m.service.Spec.Ports {
		svcPorts[p.Name] = p.TargetPort.String()
	}
	if _, ok := ports[svcPorts["http"]]; !ok {
		t.Errorf("the Service's http port targets %q, not a container port", svcPorts["http"])
	}
	if ref := m.hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != m.deployment.Name {
		t.Errorf("the autoscaler scales %s %s, want the Deployment %s", ref.Kind, ref.Name, m.deployment.Name)
	}
	if m.hpa.Spec.MinReplicas == nil || *m.hpa.Spec.MinReplicas < 2 || m.pdb.Spec.MinAvailable == nil {
		t.Error("want at least 2 replicas and a minAvailable budget, so a drain never takes the last pod")
	}
}

// checkAdminPaths asserts that sluice's admin handler serves each path
// with 200 when every check passes: the probes and the scrape point at
// real endpoints.
func checkAdminPaths(t *testing.T, paths ...string) {
	t.Helper()
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	h, err := server.NewAdminHandler(map[string]server.ReadinessCheck{
		"contracts": func() (bool, string) { return true, "" },
	}, server.WithMetricsHandler(m.Handler()))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("the admin handler answers GET %s with %d, want 200", p, rec.Code)
		}
	}
}

// The kustomization lists every manifest, and only existing ones.
func TestKustomization(t *testing.T) {
	t.Parallel()
	var k struct {
		APIVersion string           `json:"apiVersion"`
		Kind       string           `json:"kind"`
		Labels     []map[string]any `json:"labels"`
		Resources  []string         `json:"resources"`
	}
	decodeStrict(t, "kustomization.yaml", &k)
	if k.Kind != "Kustomization" {
		t.Errorf("kind %q", k.Kind)
	}
	files, err := filepath.Glob(filepath.Join(manifests, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" {
			want = append(want, b)
		}
	}
	got := slices.Clone(k.Resources)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("kustomization resources %v, want every manifest %v", got, want)
	}
}

// exportedNames are the metric families sluice's metrics register, each
// collector asked to describe itself (a vector with no series yet is
// described too).
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	reg := &describingRegistry{Registry: prometheus.NewRegistry(), names: map[string]bool{}}
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.WatchUpstreams(func() []metrics.UpstreamState { return nil }); err != nil {
		t.Fatal(err)
	}
	return reg.names
}

type describingRegistry struct {
	*prometheus.Registry
	names map[string]bool
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *describingRegistry) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return r.Registry.Register(c)
}

func (r *describingRegistry) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// metricRef finds the metric names in a PromQL expression: identifiers
// of sluice's families and of the Go and process collectors.
var metricRef = regexp.MustCompile(`\b((?:sluice|go|process)_[a-zA-Z0-9_:]+)`)

// Every query of the Grafana dashboard names only metrics sluice exports
// (a histogram's _bucket, _sum and _count series included), and names at
// least one.
func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("grafana/sluice.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&dash); err != nil {
		t.Fatal(err)
	}
	names := exportedNames(t)
	known := func(name string) bool {
		if names[name] {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && names[base] {
				return true
			}
		}
		return false
	}
	queries := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			queries++
			refs := metricRef.FindAllString(tg.Expr, -1)
			if len(refs) == 0 {
				t.Errorf("panel %q: query %q names no sluice metric", p.Title, tg.Expr)
			}
			for _, ref := range refs {
				if !known(ref) {
					t.Errorf("panel %q: %s is not a metric sluice exports", p.Title, ref)
				}
			}
		}
	}
	if queries < 10 {
		t.Errorf("only %d queries in the dashboard", queries)
	}
	t.Logf("%d queries over %d exported families", queries, len(names))
}
