package deploy_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	kusttypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

const (
	k8sDir     = "k8s"
	baseDir    = "k8s/base"
	overlayDir = "k8s/overlays/example"
)

// manifests are the typed objects of a rendering, by kind and name.
type manifests struct {
	deployments  map[string]*appsv1.Deployment
	services     map[string]*corev1.Service
	pdbs         map[string]*policyv1.PodDisruptionBudget
	jobs         map[string]*batchv1.Job
	ingresses    map[string]*networkingv1.Ingress
	configMaps   map[string]*corev1.ConfigMap
	namespaces   map[string]*corev1.Namespace
	scaledObject map[string]*kedav1alpha1.ScaledObject
	triggerAuths map[string]*kedav1alpha1.TriggerAuthentication
}

// decodeStrict decodes one YAML document into out, failing on an unknown or duplicate field.
func decodeStrict(doc []byte, out any) error {
	return yaml.UnmarshalStrict(doc, out)
}

// decodeObject decodes doc strictly into the API type of its apiVersion and kind, and files
// it in m. A kind the deployment does not use is an error, so nothing goes unchecked.
func (m *manifests) decodeObject(doc []byte) error {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return fmt.Errorf("read kind: %w", err)
	}
	key := head.APIVersion + "/" + head.Kind
	var err error
	switch key {
	case "apps/v1/Deployment":
		err = into(doc, m.deployments, head.Metadata.Name)
	case "v1/Service":
		err = into(doc, m.services, head.Metadata.Name)
	case "policy/v1/PodDisruptionBudget":
		err = into(doc, m.pdbs, head.Metadata.Name)
	case "batch/v1/Job":
		err = into(doc, m.jobs, head.Metadata.Name)
	case "networking.k8s.io/v1/Ingress":
		err = into(doc, m.ingresses, head.Metadata.Name)
	case "v1/ConfigMap":
		err = into(doc, m.configMaps, head.Metadata.Name)
	case "v1/Namespace":
		err = into(doc, m.namespaces, head.Metadata.Name)
	case "keda.sh/v1alpha1/ScaledObject":
		err = into(doc, m.scaledObject, head.Metadata.Name)
	case "keda.sh/v1alpha1/TriggerAuthentication":
		err = into(doc, m.triggerAuths, head.Metadata.Name)
	default:
		return fmt.Errorf("%s %q: a kind this test does not decode", key, head.Metadata.Name)
	}
	if err != nil {
		return fmt.Errorf("%s %q: %w", key, head.Metadata.Name, err)
	}
	return nil
}

func into[T any](doc []byte, to map[string]*T, name string) error {
	v := new(T)
	if err := decodeStrict(doc, v); err != nil {
		return err
	}
	if _, dup := to[name]; dup {
		return fmt.Errorf("defined twice")
	}
	to[name] = v
	return nil
}

// render builds the kustomization in dir (on the disk of fsys) with kustomize and decodes
// every object of the result strictly.
func render(fsys filesys.FileSystem, dir string) (*manifests, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	m := emptyManifests()
	for _, r := range rm.Resources() {
		doc, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", r.CurId(), err)
		}
		if err := m.decodeObject(doc); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// documents splits a YAML stream into its documents.
func documents(src []byte) [][]byte {
	var out [][]byte
	for _, d := range regexp.MustCompile(`(?m)^---[ \t]*$`).Split(string(src), -1) {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(d, "")) != "" {
			out = append(out, []byte(d))
		}
	}
	return out
}

// TestManifestFilesDecodeStrictly decodes every YAML file under deploy/k8s on its own, before
// kustomize sees it: kustomizations into kustomize's type, every other document (the overlay's
// patches too) into its Kubernetes or KEDA type.
func TestManifestFilesDecodeStrictly(t *testing.T) {
	t.Parallel()
	var files int
	err := filepath.WalkDir(k8sDir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || filepath.Ext(path) != ".yaml" {
			return err
		}
		files++
		src, err := os.ReadFile(path)
		require.NoError(t, err)
		if filepath.Base(path) == "kustomization.yaml" {
			var k kusttypes.Kustomization
			require.NoError(t, decodeStrict(src, &k), path)
			return nil
		}
		m := emptyManifests()
		for _, doc := range documents(src) {
			require.NoError(t, m.decodeObject(doc), path)
		}
		return nil
	})
	require.NoError(t, err)
	require.GreaterOrEqual(t, files, 12, "the base's and the overlay's files")
}

func emptyManifests() *manifests {
	return &manifests{
		deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		pdbs: map[string]*policyv1.PodDisruptionBudget{}, jobs: map[string]*batchv1.Job{},
		ingresses: map[string]*networkingv1.Ingress{}, configMaps: map[string]*corev1.ConfigMap{},
		namespaces: map[string]*corev1.Namespace{}, scaledObject: map[string]*kedav1alpha1.ScaledObject{},
		triggerAuths: map[string]*kedav1alpha1.TriggerAuthentication{},
	}
}

// serviceNames are the four Deployments, each with its container's name.
var serviceNames = map[string]string{
	"crm-api":            "api",
	"crm-intake-gateway": "intake-gateway",
	"crm-worker":         "worker",
	"crm-scheduler":      "scheduler",
}

// postgresqlTriggerKeys are the metadata keys of KEDA's postgresql scaler
// (pkg/scalers/postgresql_scaler.go of the KEDA release in go.mod); KEDA ignores any other, so a
// misspelt one would go unnoticed.
var postgresqlTriggerKeys = []string{"query", "targetQueryValue", "activationTargetQueryValue",
	"connectionFromEnv", "host", "port", "userName", "dbName", "sslmode", "passwordFromEnv"}

// postgresqlAuthParams are the parameters that scaler takes from a TriggerAuthentication.
var postgresqlAuthParams = []string{"connection", "password", "host", "port", "userName", "dbName", "sslmode"}

// TestManifests renders the base and the example overlay with kustomize, decodes every object
// strictly into its Kubernetes or KEDA type, and checks what the deployment relies on.
func TestManifests(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{baseDir, overlayDir} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			m, err := render(filesys.MakeFsOnDisk(), dir)
			require.NoError(t, err)
			checkManifests(t, m, dir == overlayDir)
		})
	}
}

func checkManifests(t *testing.T, m *manifests, overlay bool) {
	t.Helper()
	require.ElementsMatch(t, keys(serviceNames), keys(m.deployments), "a Deployment per service")
	cfg := m.configMaps["crm-config"]
	require.NotNil(t, cfg, "the shared ConfigMap")
	drain := msSetting(t, cfg.Data, "SHUTDOWN_DRAIN_MS")

	for name, container := range serviceNames {
		d := m.deployments[name]
		spec := d.Spec.Template.Spec
		require.Len(t, spec.Containers, 1, name)
		c := spec.Containers[0]
		require.Equal(t, container, c.Name)
		require.Equal(t, []string{"serve"}, c.Args, name)
		require.True(t, selects(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels), "%s: selector matches its pods", name)

		// Probes: liveness on /healthz, readiness on /readyz, on the container's port.
		require.Len(t, c.Ports, 1, name)
		require.Equal(t, int32(imagePort), c.Ports[0].ContainerPort, "%s: the image's port", name)
		for probe, path := range map[*corev1.Probe]string{c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz"} {
			require.NotNil(t, probe, "%s: probe of %s", name, path)
			require.NotNil(t, probe.HTTPGet, "%s: %s over HTTP", name, path)
			require.Equal(t, path, probe.HTTPGet.Path, name)
			require.Equal(t, intstr.FromString(c.Ports[0].Name), probe.HTTPGet.Port, name)
		}

		// Requests and limits for CPU and memory, a request never above its limit.
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
			require.False(t, req.IsZero(), "%s: %s request", name, r)
			require.False(t, lim.IsZero(), "%s: %s limit", name, r)
			require.LessOrEqual(t, req.Cmp(lim), 0, "%s: %s request above its limit", name, r)
		}

		// Non-root as the image's numeric user, read-only, no privilege escalation.
		sc := spec.SecurityContext
		require.NotNil(t, sc, name)
		require.True(t, *sc.RunAsNonRoot, name)
		require.Equal(t, int64(imageUser), *sc.RunAsUser, "%s: the Dockerfile's USER", name)
		require.False(t, *c.SecurityContext.AllowPrivilegeEscalation, name)
		require.True(t, *c.SecurityContext.ReadOnlyRootFilesystem, name)

		checkSecretsReferenced(t, name, c)

		// Stopping: the api and the gateway drain, then give requests their grace.
		require.NotNil(t, spec.TerminationGracePeriodSeconds, "%s: terminationGracePeriodSeconds", name)
		stop := time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
		if name == "crm-api" || name == "crm-intake-gateway" {
			require.Greater(t, stop, drain+httpShutdownGrace, "%s: terminationGracePeriodSeconds must exceed the drain and the request grace", name)
			// A draining pod fails readiness long enough before it stops answering.
			rp := c.ReadinessProbe
			notReadyAfter := time.Duration(max(rp.PeriodSeconds, 1)*max(rp.FailureThreshold, 1)) * time.Second
			require.Less(t, notReadyAfter, drain, "%s: readiness fails after %s, the drain lasts %s", name, notReadyAfter, drain)
		}

		// A Service selecting the pods, on the container's named port.
		svc := m.services[name]
		require.NotNil(t, svc, "%s: Service", name)
		require.True(t, selects(svc.Spec.Selector, d.Spec.Template.Labels), "%s: Service selects the pods", name)
		require.Len(t, svc.Spec.Ports, 1, name)
		require.Equal(t, intstr.FromString(c.Ports[0].Name), svc.Spec.Ports[0].TargetPort, name)

		if overlay {
			require.Regexp(t, `^registry\.example\.com/crm/`+container+`:[0-9][^:]*$`, c.Image, "%s: the overlay's image", name)
			require.Equal(t, "crm", d.Namespace, name)
		}
	}

	// The worker: KEDA owns its replica count, and it stops after its jobs' grace.
	worker := m.deployments["crm-worker"]
	require.Nil(t, worker.Spec.Replicas, "the worker Deployment leaves replicas to KEDA")
	wc := worker.Spec.Template.Spec.Containers[0]
	grace := msSetting(t, envValues(wc), "WORKER_SHUTDOWN_GRACE_MS")
	workerStop := time.Duration(*worker.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	require.Greater(t, workerStop, grace, "worker: terminationGracePeriodSeconds %s must exceed WORKER_SHUTDOWN_GRACE_MS %s", workerStop, grace)
	require.Equal(t, int32(2), *m.deployments["crm-scheduler"].Spec.Replicas, "two schedulers")

	// PodDisruptionBudgets for the api and the gateway, which a drain can still satisfy.
	require.ElementsMatch(t, []string{"crm-api", "crm-intake-gateway"}, keys(m.pdbs))
	for name, pdb := range m.pdbs {
		d := m.deployments[name]
		require.True(t, selects(pdb.Spec.Selector.MatchLabels, d.Spec.Template.Labels), "%s: PDB selects the pods", name)
		require.NotNil(t, pdb.Spec.MinAvailable, name)
		minAvail := pdb.Spec.MinAvailable.IntValue()
		require.GreaterOrEqual(t, minAvail, 1, name)
		require.Less(t, minAvail, int(*d.Spec.Replicas), "%s: a node drain can evict one pod", name)
	}

	// The migration Job: the api image's `migrate up` as the owner role.
	mig := m.jobs["crm-migrate"]
	require.NotNil(t, mig, "the migration Job")
	require.Len(t, m.jobs, 1)
	mc := mig.Spec.Template.Spec.Containers[0]
	require.Equal(t, []string{"migrate", "up"}, mc.Args)
	require.Equal(t, m.deployments["crm-api"].Spec.Template.Spec.Containers[0].Image, mc.Image, "the migration runs the api's image")
	require.Contains(t, []corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}, mig.Spec.Template.Spec.RestartPolicy)
	require.NotNil(t, mig.Spec.BackoffLimit)
	require.Equal(t, "owner-url", secretRef(t, mc, "DATABASE_URL").Key, "the migration connects as the owner")
	checkSecretsReferenced(t, "crm-migrate", mc)
	// The api and the gateway as crm_api (bound by row-level security), the rest as the owner.
	for name, key := range map[string]string{"crm-api": "app-url", "crm-intake-gateway": "app-url", "crm-worker": "owner-url", "crm-scheduler": "owner-url"} {
		require.Equal(t, key, secretRef(t, m.deployments[name].Spec.Template.Spec.Containers[0], "DATABASE_URL").Key, name)
	}

	// An Ingress for the api and one for the gateway, each to its Service's port.
	require.ElementsMatch(t, []string{"crm-api", "crm-intake-gateway"}, keys(m.ingresses))
	for name, ing := range m.ingresses {
		require.Len(t, ing.Spec.Rules, 1, name)
		paths := ing.Spec.Rules[0].HTTP.Paths
		require.Len(t, paths, 1, name)
		be := paths[0].Backend.Service
		require.Equal(t, name, be.Name, "%s: backend", name)
		require.Equal(t, m.services[name].Spec.Ports[0].Name, be.Port.Name, "%s: backend port", name)
		if overlay {
			require.NotNil(t, ing.Spec.IngressClassName, name)
			require.Len(t, ing.Spec.TLS, 1, name)
			require.Equal(t, ing.Spec.Rules[0].Host, ing.Spec.TLS[0].Hosts[0], name)
			require.NotEmpty(t, ing.Spec.TLS[0].SecretName, "%s: TLS secret referenced", name)
		}
	}

	checkKEDA(t, m)
	if overlay {
		require.Contains(t, m.namespaces, "crm")
		require.Equal(t, int32(3), *m.deployments["crm-api"].Spec.Replicas, "the overlay's api replicas")
	}
}

// checkSecretsReferenced fails when a container holds a credential as a literal: a database
// URL, a password or a key must come from a Secret.
func checkSecretsReferenced(t *testing.T, name string, c corev1.Container) {
	t.Helper()
	for _, e := range c.Env {
		if e.Name == "DATABASE_URL" || strings.Contains(e.Name, "PASSWORD") || strings.HasSuffix(e.Name, "_KEY") {
			require.Empty(t, e.Value, "%s: %s is inlined", name, e.Name)
			require.NotNil(t, e.ValueFrom, "%s: %s", name, e.Name)
			require.NotNil(t, e.ValueFrom.SecretKeyRef, "%s: %s comes from a Secret", name, e.Name)
		}
		require.NotContains(t, e.Value, "postgres://", "%s: %s", name, e.Name)
	}
	for _, from := range c.EnvFrom {
		require.Nil(t, from.SecretRef, "%s: whole Secrets are not loaded into the environment", name)
	}
}

func checkKEDA(t *testing.T, m *manifests) {
	t.Helper()
	so := m.scaledObject["crm-worker"]
	require.NotNil(t, so, "the worker's ScaledObject")
	require.Len(t, m.scaledObject, 1)
	require.Equal(t, "crm-worker", so.Spec.ScaleTargetRef.Name)
	require.Contains(t, []string{"", "Deployment"}, so.Spec.ScaleTargetRef.Kind)
	require.Contains(t, m.deployments, so.Spec.ScaleTargetRef.Name)
	require.Equal(t, m.deployments["crm-worker"].Namespace, so.Namespace)

	// KEDA's own checks of a ScaledObject.
	require.NoError(t, kedav1alpha1.ValidateTriggers(so.Spec.Triggers))
	require.NoError(t, kedav1alpha1.CheckReplicaCountBoundsAreValid(so))
	require.NoError(t, kedav1alpha1.CheckFallbackValid(so))
	require.NotNil(t, so.Spec.MinReplicaCount)
	require.NotNil(t, so.Spec.MaxReplicaCount)
	require.GreaterOrEqual(t, *so.Spec.MinReplicaCount, int32(1), "one worker always runs")

	require.Len(t, so.Spec.Triggers, 1)
	tr := so.Spec.Triggers[0]
	require.Equal(t, "postgresql", tr.Type)
	for k := range tr.Metadata {
		require.Contains(t, postgresqlTriggerKeys, k, "postgresql trigger metadata %q", k)
	}
	target, err := strconv.ParseFloat(tr.Metadata["targetQueryValue"], 64)
	require.NoError(t, err, "targetQueryValue")
	require.Positive(t, target)
	query := tr.Metadata["query"]
	require.NotEmpty(t, query)
	// The count stops at maxReplicaCount x targetQueryValue: where it stops, KEDA asks for
	// exactly maxReplicaCount workers, so the cap never lowers a decision.
	limit := regexp.MustCompile(`(?i)\bLIMIT\s+(\d+)\b`).FindStringSubmatch(query)
	require.Len(t, limit, 2, "the query caps its count: %s", query)
	capped, err := strconv.Atoi(limit[1])
	require.NoError(t, err)
	require.GreaterOrEqual(t, float64(capped), target*float64(*so.Spec.MaxReplicaCount),
		"the count's cap %d is below maxReplicaCount x targetQueryValue", capped)

	// The connection comes from a TriggerAuthentication that references the owner's Secret.
	require.NotNil(t, tr.AuthenticationRef)
	require.Contains(t, []string{"", "TriggerAuthentication"}, tr.AuthenticationRef.Kind)
	ta := m.triggerAuths[tr.AuthenticationRef.Name]
	require.NotNil(t, ta, "TriggerAuthentication %q", tr.AuthenticationRef.Name)
	require.Equal(t, so.Namespace, ta.Namespace)
	var params []string
	for _, ref := range ta.Spec.SecretTargetRef {
		require.Contains(t, postgresqlAuthParams, ref.Parameter)
		params = append(params, ref.Parameter)
		require.Equal(t, "crm-db", ref.Name)
		require.Equal(t, "owner-url", ref.Key, "the scaler counts as the owner role (row-level security hides jobs from the others)")
	}
	require.Equal(t, []string{"connection"}, params)
}

// keda returns the postgresql trigger's query from the base's ScaledObject.
func kedaQuery(t *testing.T) string {
	t.Helper()
	m, err := render(filesys.MakeFsOnDisk(), baseDir)
	require.NoError(t, err)
	so := m.scaledObject["crm-worker"]
	require.NotNil(t, so)
	require.Len(t, so.Spec.Triggers, 1)
	return so.Spec.Triggers[0].Metadata["query"]
}

// TestManifestsRejectMisspeltFields copies deploy/k8s, misspells one field at a time, and
// renders the overlay: each rendering must fail on the unknown field, in a Kubernetes type
// and in a KEDA type alike.
func TestManifestsRejectMisspeltFields(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ file, from, to string }{
		{"base/worker.yaml", "terminationGracePeriodSeconds: 40", "terminationGracePeriodSecond: 40"},
		{"base/api.yaml", "readinessProbe:", "readinesProbe:"},
		{"base/keda.yaml", "pollingInterval: 15", "pollingIntervall: 15"},
		{"base/keda.yaml", "secretTargetRef:", "secretTargetRefs:"},
		{"base/migrate.yaml", "backoffLimit: 4", "backofLimit: 4"},
	} {
		t.Run(c.to, func(t *testing.T) {
			t.Parallel()
			dir := copyTree(t, k8sDir)
			path := filepath.Join(dir, c.file)
			src, err := os.ReadFile(path)
			require.NoError(t, err)
			bad := bytes.Replace(src, []byte(c.from), []byte(c.to), 1)
			require.NotEqual(t, src, bad, "%q is in %s", c.from, c.file)
			require.NoError(t, os.WriteFile(path, bad, 0o600))

			_, err = render(filesys.MakeFsOnDisk(), filepath.Join(dir, "overlays/example"))
			require.Error(t, err)
			field, _, _ := strings.Cut(c.to, ":")
			require.Contains(t, err.Error(), `unknown field "`)
			require.Contains(t, err.Error(), field)
		})
	}
	// The copy renders as the original does (the failures above are the misspellings').
	_, err := render(filesys.MakeFsOnDisk(), filepath.Join(copyTree(t, k8sDir), "overlays/example"))
	require.NoError(t, err)
}

func copyTree(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	require.NoError(t, os.CopyFS(to, os.DirFS(from)))
	return to
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// selects reports whether a selector's labels are all on the pod.
func selects(selector, pod map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if pod[k] != v {
			return false
		}
	}
	return true
}

func envValues(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		out[e.Name] = e.Value
	}
	return out
}

func secretRef(t *testing.T, c corev1.Container, name string) *corev1.SecretKeySelector {
	t.Helper()
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			require.Equal(t, "crm-db", e.ValueFrom.SecretKeyRef.Name, "%s: %s", c.Name, name)
			return e.ValueFrom.SecretKeyRef
		}
	}
	require.Failf(t, "no secret reference", "%s: %s", c.Name, name)
	return nil
}

// msSetting reads a millisecond setting.
func msSetting(t *testing.T, settings map[string]string, key string) time.Duration {
	t.Helper()
	v, ok := settings[key]
	require.True(t, ok, "%s is set", key)
	ms, err := strconv.Atoi(v)
	require.NoError(t, err, key)
	return time.Duration(ms) * time.Millisecond
}
