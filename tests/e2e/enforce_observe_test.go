package e2e

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// decisionTraffic sends one known mix of messages with a notes:read token
// and returns how many decisions it caused, by decision and method label.
func decisionTraffic(t *testing.T, e *env, tok string) map[string]float64 {
	t.Helper()
	send := func(body string, h ...[2]string) {
		t.Helper()
		e.post(t, tok, body, h...)
	}
	send(call("1", "echo_read"), modernHeaders("tools/call", "echo_read")...)
	send(call("2", "echo_write"), modernHeaders("tools/call", "echo_write")...)
	send(call("3", "echo_write"))
	send(call("4", "undeclared"))
	send(modernMessage("5", "tools/list", nil), modernHeaders("tools/list", "")...)
	send(modernMessage("6", "admin/shutdown", nil))
	send(modernMessage("7", "zzz-unbounded-label-"+strconv.Itoa(len(tok)), nil))
	send(modernMessage("", "notifications/cancelled", map[string]any{"requestId": 1}), modernHeaders("notifications/cancelled", "")...)
	send(modernMessage("8", "resources/read", map[string]any{"uri": "notes://1"}))
	send(`{"jsonrpc":"2.0","id":"srv-1","result":{}}`) // a response to a server request
	send(modernMessage("11", "tasks/list", nil), modernHeaders("tasks/list", "")...)
	// Refused before any decision: not counted.
	send("[" + call("9", "echo_read") + "]")
	send(`{"jsonrpc":"2.0","id":10,"method":"tools/call","METHOD":"x"}`)
	return map[string]float64{
		`decision="allow",method="tools/call"`:              1,
		`decision="insufficient_scope",method="tools/call"`: 2,
		`decision="unknown",method="tools/call"`:            1,
		`decision="allow",method="tools/list"`:              1,
		`decision="method_not_allowed",method="other"`:      2,
		`decision="allow",method="notification"`:            1,
		`decision="unknown",method="resources/read"`:        1,
		`decision="allow",method="response"`:                1,
		`decision="allow",method="tasks"`:                   1,
	}
}

var decisionLine = regexp.MustCompile(`(?m)^caddy_mcp_gateway_decisions_total\{([^}]*)\} (\S+)$`)

// TestDecisionMetrics: caddy_mcp_gateway_decisions_total on the admin
// /metrics counts every decision by method and decision, with bounded
// labels (no tool names, unknown methods as "other"), beside the decision
// latency histogram.
func TestDecisionMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	want := decisionTraffic(t, e, e.token(t, false, "notes:read"))
	text := e.caddy.Metrics(t)
	got := map[string]float64{}
	for _, m := range decisionLine.FindAllStringSubmatch(text, -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatalf("metric value %q: %v", m[2], err)
		}
		got[m[1]] = v
	}
	for labels, n := range want {
		if got[labels] != n {
			t.Errorf("decisions_total{%s} = %v, want %v", labels, got[labels], n)
		}
	}
	for labels := range got {
		if _, ok := want[labels]; !ok {
			t.Errorf("unexpected series decisions_total{%s} = %v", labels, got[labels])
		}
		if strings.Contains(labels, "zzz") || strings.Contains(labels, "echo_") || strings.Contains(labels, "sub-") {
			t.Errorf("unbounded label value in decisions_total{%s}", labels)
		}
	}
	if !strings.Contains(text, `caddy_mcp_gateway_decision_seconds_bucket{`) {
		t.Error("no caddy_mcp_gateway_decision_seconds histogram")
	}
}

// auditLine is one decision in Caddy's JSON log.
type auditLine struct {
	Logger        string   `json:"logger"`
	Msg           string   `json:"msg"`
	Subject       string   `json:"subject"`
	ClientID      string   `json:"client_id"`
	Method        string   `json:"method"`
	Decision      string   `json:"decision"`
	Tool          string   `json:"tool"`
	Resource      string   `json:"resource"`
	MissingScopes []string `json:"missing_scopes"`
	Duration      *float64 `json:"duration"`
}

// TestDecisionAuditLog: every decision writes exactly one line through
// the logger http.handlers.mcp_gateway.audit, msg "mcp decision", with
// subject, client id, method, target, decision, missing scopes and
// duration; refusals before a decision write none; the token never
// appears.
func TestDecisionAuditLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok := e.token(t, false, "notes:read")
	want := decisionTraffic(t, e, tok)
	e.caddy.Stop() // flush
	var lines []auditLine
	for line := range strings.Lines(e.caddy.Logs()) {
		if !strings.Contains(line, `"http.handlers.mcp_gateway.audit"`) {
			continue
		}
		var a auditLine
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("audit line is not JSON: %q", line)
		}
		lines = append(lines, a)
	}
	total := 0.0
	for _, n := range want {
		total += n
	}
	if len(lines) != int(total) {
		t.Fatalf("%d audit lines, want %v (one per decision)", len(lines), total)
	}
	var decisions []string
	for _, a := range lines {
		// Responses to server requests have no method: "" is theirs.
		if a.Msg != "mcp decision" || a.Subject != "sub-mcp-client" || a.ClientID != "mcp-client" || a.Decision == "" || a.Duration == nil {
			t.Errorf("audit line %+v lacks msg, subject, client id, decision or duration", a)
		}
		decisions = append(decisions, a.Method+" "+a.Decision+" "+a.Tool+a.Resource+" "+strings.Join(a.MissingScopes, ","))
	}
	slices.Sort(decisions)
	wantDecisions := []string{
		"admin/shutdown method_not_allowed  ",
		"notifications/cancelled allow  ",
		" allow  ",
		"resources/read unknown notes://1 ",
		"tasks/list allow  ",
		"tools/call allow echo_read ",
		"tools/call insufficient_scope echo_write notes:write",
		"tools/call insufficient_scope echo_write notes:write",
		"tools/call unknown undeclared ",
		"tools/list allow  ",
		"zzz-unbounded-label-" + strconv.Itoa(len(tok)) + " method_not_allowed  ",
	}
	slices.Sort(wantDecisions)
	if !slices.Equal(decisions, wantDecisions) {
		t.Errorf("audit decisions\n got  %q\n want %q", decisions, wantDecisions)
	}
	for _, part := range tokenParts(tok) {
		if strings.Contains(e.caddy.Logs(), part) {
			t.Error("the token appears in Caddy's logs")
		}
	}
}
