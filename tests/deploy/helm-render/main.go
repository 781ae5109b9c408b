// helm-render renders a Helm chart offline, for tests, where no `helm` binary exists.
//
// It implements the part of Helm 3's template engine (helm.sh/helm/v3/pkg/engine) that
// helm/lgsp uses, with the same libraries Helm uses: Go's text/template, Masterminds/sprig
// (Helm's function library) and ghodss/yaml (the code sigs.k8s.io/yaml forked, which Helm
// uses for values and toYaml, so numbers from values are float64 exactly as in Helm).
//
//   - values: the chart's values.yaml, then each --values file coalesced over it (maps merge
//     deeply, a null deletes the key), as `helm template -f`;
//   - objects: .Values, .Release, .Chart (from Chart.yaml), .Capabilities (a fixed minimal
//     set), .Template, .Files (every file outside templates/, following symlinks);
//   - functions: sprig minus env/expandenv, plus include, tpl, required, fail (sprig),
//     toYaml, fromYaml, fromYamlArray, toJson, fromJson, fromJsonArray; lookup returns an
//     empty map as `helm template` does;
//   - missingkey=error by default (as `helm lint --strict`: a misspelt .Values path fails);
//     --strict=false gives Helm's missingkey=zero, "<no value>" removed.
//
// It does not implement subcharts, hooks, .helmignore, Capabilities from a cluster, or
// Helm's manifest sorting; the chart uses none of them. Output in --out: manifests.yaml
// (every manifest, each preceded by "# Source: <chart>/templates/<file>"), NOTES.txt, and
// values.json (the coalesced values, which Helm validates against values.schema.json).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"github.com/ghodss/yaml"
)

// Metadata mirrors helm.sh/helm/v3/pkg/chart.Metadata: templates see .Chart.Name etc.
type Metadata struct {
	Name         string            `json:"name"`
	Home         string            `json:"home,omitempty"`
	Sources      []string          `json:"sources,omitempty"`
	Version      string            `json:"version"`
	Description  string            `json:"description,omitempty"`
	Keywords     []string          `json:"keywords,omitempty"`
	Maintainers  []interface{}     `json:"maintainers,omitempty"`
	Icon         string            `json:"icon,omitempty"`
	APIVersion   string            `json:"apiVersion"`
	Condition    string            `json:"condition,omitempty"`
	Tags         string            `json:"tags,omitempty"`
	AppVersion   string            `json:"appVersion,omitempty"`
	Deprecated   bool              `json:"deprecated,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	KubeVersion  string            `json:"kubeVersion,omitempty"`
	Dependencies []interface{}     `json:"dependencies,omitempty"`
	Type         string            `json:"type,omitempty"`
}

// Files mirrors Helm's .Files for the methods the chart may call.
type Files map[string][]byte

func (f Files) GetBytes(name string) []byte { return f[name] }
func (f Files) Get(name string) string      { return string(f[name]) }
func (f Files) Lines(name string) []string {
	s := string(f[name])
	if s == "" {
		return []string{}
	}
	return strings.Split(s, "\n")
}

// VersionSet mirrors chartutil.VersionSet.
type VersionSet []string

func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func readYAMLMap(file string) (map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if m == nil {
		m = map[string]interface{}{}
	}
	return m, nil
}

// coalesce merges src over dst as Helm does for user values over chart defaults.
func coalesce(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		sm, sok := v.(map[string]interface{})
		dm, dok := dst[k].(map[string]interface{})
		if sok && dok {
			dst[k] = coalesce(dm, sm)
		} else {
			dst[k] = v
		}
	}
	return dst
}

func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromYAMLArray(s string) []interface{} {
	a := []interface{}{}
	if err := yaml.Unmarshal([]byte(s), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

func toJSON(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromJSONArray(s string) []interface{} {
	a := []interface{}{}
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

type renderer struct {
	root     *template.Template
	included map[string]int
}

func (r *renderer) funcs() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	f["toYaml"] = toYAML
	f["fromYaml"] = fromYAML
	f["fromYamlArray"] = fromYAMLArray
	f["toJson"] = toJSON
	f["fromJson"] = fromJSON
	f["fromJsonArray"] = fromJSONArray
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return v, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return v, errors.New(msg)
		}
		return v, nil
	}
	f["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	// include and tpl need the parsed set; bound late (see render).
	f["include"] = func(string, interface{}) (string, error) { return "", errors.New("not bound") }
	f["tpl"] = func(string, interface{}) (string, error) { return "", errors.New("not bound") }
	return f
}

func (r *renderer) bind() {
	r.root.Funcs(template.FuncMap{
		"include": func(name string, data interface{}) (string, error) {
			r.included[name]++
			defer func() { r.included[name]-- }()
			if r.included[name] > 1000 {
				return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
			}
			var buf bytes.Buffer
			if err := r.root.ExecuteTemplate(&buf, name, data); err != nil {
				return "", err
			}
			return buf.String(), nil
		},
		"tpl": func(text string, data interface{}) (string, error) {
			t, err := r.root.Clone()
			if err != nil {
				return "", err
			}
			t, err = t.New("tpl").Parse(text)
			if err != nil {
				return "", fmt.Errorf("cannot parse template %q: %w", text, err)
			}
			var buf bytes.Buffer
			if err := t.Execute(&buf, data); err != nil {
				return "", err
			}
			return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
		},
	})
}

func main() {
	chartDir := flag.String("chart", "", "chart directory (Chart.yaml, values.yaml, templates/)")
	outDir := flag.String("out", "", "where to write manifests.yaml and NOTES.txt")
	release := flag.String("release", "lgsp", "release name")
	namespace := flag.String("namespace", "lgsp", "release namespace")
	kubeVersion := flag.String("kube-version", "v1.29.0", ".Capabilities.KubeVersion")
	strict := flag.Bool("strict", true, "missingkey=error, as `helm lint --strict`")
	valuesOnly := flag.Bool("values-only", false, "write values.json (coalesced values) and stop")
	var valueFiles, fileOverrides stringList
	flag.Var(&valueFiles, "values", "values file over the chart's values.yaml (repeatable)")
	flag.Var(&fileOverrides, "file", "NAME=PATH: serve PATH as .Files NAME (repeatable; tests)")
	flag.Parse()
	if *chartDir == "" || *outDir == "" {
		fmt.Fprintln(os.Stderr, "usage: helm-render --chart DIR --out DIR [--values F]... [--file NAME=PATH]...")
		os.Exit(2)
	}
	if err := run(*chartDir, *outDir, *release, *namespace, *kubeVersion, *strict, *valuesOnly,
		valueFiles, fileOverrides); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func run(chartDir, outDir, release, namespace, kubeVersion string, strict, valuesOnly bool,
	valueFiles, fileOverrides []string) error {
	var meta Metadata
	raw, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(raw, &meta); err != nil {
		return fmt.Errorf("Chart.yaml: %w", err)
	}
	if meta.APIVersion != "v2" || meta.Name == "" || meta.Version == "" {
		return errors.New("Chart.yaml: apiVersion v2, name and version are required")
	}
	if base := filepath.Base(filepath.Clean(chartDir)); base != meta.Name {
		return fmt.Errorf("Chart.yaml: name %q must match the directory %q", meta.Name, base)
	}

	values, err := readYAMLMap(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return err
	}
	for _, f := range valueFiles {
		user, err := readYAMLMap(f)
		if err != nil {
			return err
		}
		values = coalesce(values, user)
	}

	files := Files{}
	var templates []string
	// filepath.WalkDir does not descend into symlinked directories; the chart only
	// symlinks files, which os.ReadFile follows (as Helm's loader does).
	err = filepath.WalkDir(chartDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(chartDir, p)
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(rel, "templates/") {
			templates = append(templates, rel)
			return nil
		}
		switch rel {
		case "Chart.yaml", "values.yaml", "values.schema.json", "Chart.lock":
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			// A dangling symlink: Helm's loader fails on it too. Keep it absent so that
			// `required` in the template names what is missing.
			fmt.Fprintf(os.Stderr, "warning: %s: %v\n", rel, err)
			return nil
		}
		files[rel] = data
		return nil
	})
	if err != nil {
		return err
	}
	for _, o := range fileOverrides {
		name, file, ok := strings.Cut(o, "=")
		if !ok {
			return fmt.Errorf("--file %q: expected NAME=PATH", o)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		files[name] = data
	}
	sort.Strings(templates)

	r := &renderer{included: map[string]int{}}
	r.root = template.New("gotpl")
	if strict {
		r.root.Option("missingkey=error")
	} else {
		r.root.Option("missingkey=zero")
	}
	r.root.Funcs(r.funcs())
	for _, t := range templates {
		data, err := os.ReadFile(filepath.Join(chartDir, t))
		if err != nil {
			return err
		}
		if _, err := r.root.New(path.Join(meta.Name, t)).Parse(string(data)); err != nil {
			return err
		}
	}
	r.bind()

	major, minor := "1", "29"
	if v := strings.TrimPrefix(kubeVersion, "v"); v != "" {
		parts := strings.Split(v, ".")
		if len(parts) >= 2 {
			major, minor = parts[0], parts[1]
		}
	}
	top := map[string]interface{}{
		"Values": values,
		"Chart":  meta,
		"Files":  files,
		"Release": map[string]interface{}{
			"Name": release, "Namespace": namespace, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Capabilities": map[string]interface{}{
			"KubeVersion": map[string]interface{}{
				"Version": kubeVersion, "GitVersion": kubeVersion, "Major": major, "Minor": minor,
			},
			"APIVersions": VersionSet{"v1", "apps/v1", "autoscaling/v2", "policy/v1"},
			"HelmVersion": map[string]interface{}{"Version": "v3-offline-subset"},
		},
	}

	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	// The coalesced values, which Helm validates against values.schema.json.
	merged, err := json.MarshalIndent(values, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(outDir, "values.json"), merged, 0o644); err != nil {
		return err
	}
	if valuesOnly {
		return nil
	}
	var manifests bytes.Buffer
	var notes string
	for _, t := range templates {
		base := path.Base(t)
		if strings.HasPrefix(base, "_") {
			continue
		}
		name := path.Join(meta.Name, t)
		scoped := map[string]interface{}{}
		for k, v := range top {
			scoped[k] = v
		}
		scoped["Template"] = map[string]interface{}{
			"Name": name, "BasePath": path.Join(meta.Name, "templates"),
		}
		var buf bytes.Buffer
		if err := r.root.ExecuteTemplate(&buf, name, scoped); err != nil {
			return err
		}
		out := strings.ReplaceAll(buf.String(), "<no value>", "")
		if base == "NOTES.txt" {
			notes = out
			continue
		}
		if strings.TrimSpace(out) == "" {
			continue
		}
		fmt.Fprintf(&manifests, "---\n# Source: %s\n%s\n", name, strings.TrimSpace(out))
	}
	if err := os.WriteFile(filepath.Join(outDir, "manifests.yaml"), manifests.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(outDir, "NOTES.txt"), []byte(notes), 0o644)
}
