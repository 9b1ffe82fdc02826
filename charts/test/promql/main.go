// promql-check parses alerting-rule expressions with Prometheus's own PromQL parser.
//
// Input (stdin): a JSON array of {"name": "...", "expr": "...", "for": "5m"}.
// Output (stdout): a JSON array of {"name", "type", "metrics", "labels", "error"}, one per
// input rule, where "metrics" lists every metric name the expression selects, "labels" every
// label name it matches on or groups by (selectors, by/without, on/ignoring), and "type" is
// the expression's value type (an alert must yield an instant vector).
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
	Labels  []string `json:"labels"`
	Error   string   `json:"error,omitempty"`
}

func check(r rule) result {
	out := result{Name: r.Name, Metrics: []string{}, Labels: []string{}}
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
	labels := map[string]bool{}
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			name := n.Name
			for _, m := range n.LabelMatchers {
				if m.Name == model.MetricNameLabel {
					name = m.Value
				} else {
					labels[m.Name] = true
				}
			}
			if name != "" {
				seen[name] = true
			}
		case *parser.AggregateExpr:
			for _, l := range n.Grouping {
				labels[l] = true
			}
		case *parser.BinaryExpr:
			if n.VectorMatching != nil {
				for _, l := range n.VectorMatching.MatchingLabels {
					labels[l] = true
				}
				for _, l := range n.VectorMatching.Include {
					labels[l] = true
				}
			}
		}
		return nil
	})
	out.Metrics = sortedKeys(seen)
	out.Labels = sortedKeys(labels)
	return out
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
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
