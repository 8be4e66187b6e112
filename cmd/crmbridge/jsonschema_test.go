package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

// jsonSchema is the subset of JSON Schema (draft 2020-12) that
// json.schema.json uses. A keyword outside the subset is an error, so the
// schema cannot say more than this validator checks.
type jsonSchema struct {
	root map[string]any
}

func loadJSONSchema(path string) (*jsonSchema, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &jsonSchema{root: root}, nil
}

// def returns the schema of $defs/name.
func (s *jsonSchema) def(name string) (map[string]any, bool) {
	defs, _ := s.root["$defs"].(map[string]any)
	d, ok := defs[name].(map[string]any)
	return d, ok
}

// validate checks the JSON document doc against $defs/name and returns
// every violation, each with its JSON pointer.
func (s *jsonSchema) validate(name string, doc []byte) []string {
	d, ok := s.def(name)
	if !ok {
		return []string{"no $defs/" + name + " in the schema"}
	}
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	if dec.More() {
		return []string{"more than one JSON value"}
	}
	var errs []string
	s.check(d, v, "", &errs)
	return errs
}

var knownKeywords = map[string]bool{
	"$ref": true, "type": true, "properties": true, "required": true, "additionalProperties": true,
	"items": true, "enum": true, "pattern": true, "format": true, "minimum": true, "propertyNames": true,
	"description": true, "title": true,
}

func (s *jsonSchema) check(sch map[string]any, v any, at string, errs *[]string) {
	fail := func(format string, args ...any) {
		*errs = append(*errs, fmt.Sprintf("%s: %s", orRoot(at), fmt.Sprintf(format, args...)))
	}
	for k := range sch {
		if !knownKeywords[k] {
			fail("schema keyword %q is not supported by the validator", k)
		}
	}
	if ref, ok := sch["$ref"].(string); ok {
		name, found := strings.CutPrefix(ref, "#/$defs/")
		d, ok := s.def(name)
		if !found || !ok {
			fail("bad $ref %q", ref)
			return
		}
		s.check(d, v, at, errs)
	}
	if t, ok := sch["type"].(string); ok && !hasType(v, t) {
		fail("%s is not of type %s", short(v), t)
		return
	}
	if enum, ok := sch["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			found = found || fmt.Sprint(e) == fmt.Sprint(v)
		}
		if !found {
			fail("%s is not one of %v", short(v), enum)
		}
	}
	if p, ok := sch["pattern"].(string); ok {
		if str, ok := v.(string); !ok || !regexp.MustCompile(p).MatchString(str) {
			fail("%s does not match %s", short(v), p)
		}
	}
	if f, ok := sch["format"].(string); ok {
		str, _ := v.(string)
		if _, err := time.Parse(time.RFC3339Nano, str); f != "date-time" || err != nil {
			fail("%s is not a %s", short(v), f)
		}
	}
	if m, ok := sch["minimum"].(float64); ok {
		if n, ok := v.(json.Number); ok {
			if f, _ := n.Float64(); f < m {
				fail("%s is below %v", n, m)
			}
		}
	}
	if t, _ := sch["type"].(string); t == "object" && sch["additionalProperties"] == nil {
		fail("schema: an object must say additionalProperties (false, or the schema of its values)")
	}
	if items, ok := sch["items"].(map[string]any); ok {
		arr, _ := v.([]any)
		for i, x := range arr {
			s.check(items, x, fmt.Sprintf("%s/%d", at, i), errs)
		}
	}
	obj, isObj := v.(map[string]any)
	if !isObj {
		return
	}
	props, _ := sch["properties"].(map[string]any)
	if req, ok := sch["required"].([]any); ok {
		for _, r := range req {
			if _, ok := obj[r.(string)]; !ok {
				fail("missing key %q", r)
			}
		}
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if pn, ok := sch["propertyNames"].(map[string]any); ok {
			s.check(pn, k, at+"/"+k+" (key)", errs)
		}
		if ps, ok := props[k].(map[string]any); ok {
			s.check(ps, obj[k], at+"/"+k, errs)
			continue
		}
		switch ap := sch["additionalProperties"].(type) {
		case bool:
			if !ap {
				fail("key %q is not in the schema", k)
			}
		case map[string]any:
			s.check(ap, obj[k], at+"/"+k, errs)
		}
	}
}

func hasType(v any, t string) bool {
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := n.Int64()
		return err == nil
	case "null":
		return v == nil
	}
	return false
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 60 {
		return string(b[:57]) + "..."
	}
	return string(b)
}

func orRoot(at string) string {
	if at == "" {
		return "/"
	}
	return at
}
