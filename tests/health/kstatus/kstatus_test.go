// Package kstatus computes, with sigs.k8s.io/cli-utils/pkg/kstatus/status (what Flux, kpt and
// Config Sync use to tell when an applied object is reconciled), the status of the operator's
// objects in each state it writes, and requires the status the docs promise. The objects come from
// tests/health/test_kstatus.py, built with the operator's own condition builder and written to the
// file named by ENS_KSTATUS_CASES.
package kstatus

import (
	"encoding/json"
	"os"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type testCase struct {
	Name    string          `json:"name"`
	Object  json.RawMessage `json:"object"`
	Status  string          `json:"status"`
	Message string          `json:"message"`
}

func TestStatusOfEachState(t *testing.T) {
	path := os.Getenv("ENS_KSTATUS_CASES")
	if path == "" {
		t.Fatal("ENS_KSTATUS_CASES is not set: run this through pytest tests/health/test_kstatus.py")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cases []testCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no cases in " + path)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			obj := &unstructured.Unstructured{}
			if err := obj.UnmarshalJSON(c.Object); err != nil {
				t.Fatal(err)
			}
			result, err := status.Compute(obj)
			if err != nil {
				t.Fatalf("kstatus cannot compute a status: %v", err)
			}
			if string(result.Status) != c.Status || result.Message != c.Message {
				t.Errorf("kstatus says %s (%q), expected %s (%q)", result.Status, result.Message, c.Status, c.Message)
			}
		})
	}
}
