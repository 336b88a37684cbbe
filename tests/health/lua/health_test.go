// Package lua runs manifests/argocd/health.lua on gopher-lua, the Lua interpreter Argo CD embeds,
// the way Argo CD's util/lua runs a health script from argocd-cm, and requires the status and
// message lupa gave for the same case. The cases come from tests/health/argocd_health.py through
// tests/health/test_gopher_lua.py, which writes them to the file named by ENS_HEALTH_CASES.
package lua

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

type answer struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

type testCase struct {
	Name     string          `json:"name"`
	Object   json.RawMessage `json:"object"`
	Expected answer          `json:"expected"`
	Lupa     answer          `json:"lupa"`
}

// The health statuses Argo CD accepts from a script; any other becomes Unknown.
var validStatuses = map[string]bool{
	"Unknown": true, "Progressing": true, "Suspended": true, "Healthy": true, "Degraded": true, "Missing": true,
}

// decodeObject decodes JSON as k8s.io/apimachinery does into an Unstructured's map: whole numbers
// become int64, the others float64.
func decodeObject(raw []byte) (map[string]any, error) {
	decoder := json.NewDecoder(bytes.NewReader(raw))
	decoder.UseNumber()
	var obj map[string]any
	if err := decoder.Decode(&obj); err != nil {
		return nil, err
	}
	converted, err := convertNumbers(obj)
	if err != nil {
		return nil, err
	}
	return converted.(map[string]any), nil
}

func convertNumbers(value any) (any, error) {
	switch v := value.(type) {
	case map[string]any:
		for key, item := range v {
			converted, err := convertNumbers(item)
			if err != nil {
				return nil, err
			}
			v[key] = converted
		}
	case []any:
		for i, item := range v {
			converted, err := convertNumbers(item)
			if err != nil {
				return nil, err
			}
			v[i] = converted
		}
	case json.Number:
		if whole, err := v.Int64(); err == nil {
			return whole, nil
		}
		return v.Float64()
	}
	return value, nil
}

// decodeValue turns the object into Lua values as Argo CD's util/lua decodeValue does: maps become
// hash tables (RawSetH), slices array tables (Append), every number an LNumber, nil LNil.
func decodeValue(L *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case json.Number:
		return lua.LString(v)
	case int:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case []any:
		arr := L.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(decodeValue(L, item))
		}
		return arr
	case map[string]any:
		tbl := L.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetH(lua.LString(key), decodeValue(L, item))
		}
		return tbl
	}
	return lua.LNil
}

// health runs script as Argo CD runs a health.lua from argocd-cm without useOpenLibs: only the
// package, base and table libraries (Argo CD adds a reduced os library; health.lua uses none of
// it, so it is left out here and a use of os fails this test), a one-second deadline, the object
// in the global obj; the returned table read as Argo CD's JSON round trip into HealthStatus does.
func health(script string, obj map[string]any) (answer, error) {
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := L.CallByParam(lua.P{Fn: L.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return answer{}, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	L.SetContext(ctx)
	L.SetGlobal("obj", decodeValue(L, obj))
	if err := L.DoString(script); err != nil {
		return answer{}, err
	}
	returned, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		return answer{}, fmt.Errorf("expect table output from Lua script, not %s", L.Get(-1).Type())
	}
	var result answer
	for field, into := range map[string]*string{"status": &result.Status, "message": &result.Message} {
		switch value := returned.RawGetString(field).(type) {
		case lua.LString:
			*into = string(value)
		case *lua.LNilType:
		default:
			// Argo CD's json.Unmarshal into a string field fails on a number, a boolean or a table.
			return answer{}, fmt.Errorf("%s is a Lua %s, not a string", field, value.Type())
		}
	}
	if !validStatuses[result.Status] {
		return answer{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
	}
	return result, nil
}

func TestHealthLuaAgreesWithLupa(t *testing.T) {
	casesPath := os.Getenv("ENS_HEALTH_CASES")
	if casesPath == "" {
		t.Fatal("ENS_HEALTH_CASES is not set: run this through pytest tests/health/test_gopher_lua.py")
	}
	scriptPath := os.Getenv("ENS_HEALTH_LUA")
	if scriptPath == "" {
		scriptPath = filepath.Join("..", "..", "..", "manifests", "argocd", "health.lua")
	}
	script, err := os.ReadFile(scriptPath)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(casesPath)
	if err != nil {
		t.Fatal(err)
	}
	var cases []testCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no cases in " + casesPath)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			obj, err := decodeObject(c.Object)
			if err != nil {
				t.Fatal(err)
			}
			got, err := health(string(script), obj)
			if err != nil {
				t.Fatalf("health.lua fails on gopher-lua: %v", err)
			}
			if got != c.Lupa {
				t.Errorf("gopher-lua gives %+v, lupa gives %+v (expected %+v)", got, c.Lupa, c.Expected)
			}
		})
	}
}
