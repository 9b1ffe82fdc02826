// promql-check parses alerting-rule expressions with Prometheus's own PromQL parser.
//
// Input (stdin): a JSON array of {"name": "...", "expr": "...", "for": "5m"}.
// Output (stdout): a JSON array of {"name", "type", "metrics", "error"}, one per input rule,
// where "metrics" lists every metric name the expression selects and "type" is the
// expression's value type (an alert must yield an instant vector).
// Exit status: 0 when every rule parsed, 1 when any did not, 2 on bad input.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
)

type rule struct {
	Name string `json:"name"`
	Expr string `json:"expr"`
	For  string `json:"for"`
}

type result struct {
	Name    string   `json:"name"`
	Type    string   `json:"type,omitempty"`
	Metrics []string `json:"metrics"`
	Error   string   `json:"error,omitempty"`
}

func check(r rule) result {
	out := result{Name: r.Name, Metrics: []string{}}
	if r.For != "" {
		if _, err := model.ParseDuration(r.For); err != nil {
			out.Error = fmt.Sprintf("for: %v", err)
			return out
		}
	}
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(r.Expr)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	out.Type = string(expr.Type())
	seen := map[string]bool{}
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok {
			name := vs.Name
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel {
					name = m.Value
				}
			}
			if name != "" {
				seen[name] = true
			}
		}
		return nil
	})
	for name := range seen {
		out.Metrics = append(out.Metrics, name)
	}
	sort.Strings(out.Metrics)
	return out
}

func main() {
	var rules []rule
	if err := json.NewDecoder(os.Stdin).Decode(&rules); err != nil {
		fmt.Fprintf(os.Stderr, "promql-check: reading rules from stdin: %v\n", err)
		os.Exit(2)
	}
	results := make([]result, 0, len(rules))
	failed := false
	for _, r := range rules {
		res := check(r)
		if res.Error != "" {
			failed = true
		}
		results = append(results, res)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(results); err != nil {
		fmt.Fprintf(os.Stderr, "promql-check: %v\n", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}
