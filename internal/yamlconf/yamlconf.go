// Package yamlconf reads a YAML configuration file strictly and says
// where it is wrong: unknown keys are refused, and every error names the
// file and the line ("/etc/shian/command.yaml:16: …"). The command
// service's command.yaml is read with it.
package yamlconf

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is a configuration problem with the line it is on.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Lines maps the dotted path of every mapping key ("assurance.incident.
// deadlines.warned") to its line.
type Lines map[string]int

// Of returns the line of path, or of its nearest parent that is in the
// file, or 0.
func (l Lines) Of(path string) int {
	for path != "" {
		if n := l[path]; n > 0 {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// Decode decodes b into v (which holds the defaults: the file overrides
// only the keys it names) and returns the lines of its keys. name is the
// file's name for messages.
func Decode(name string, b []byte, v any) (Lines, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, yamlErr(name, err)
	}
	lines := Lines{}
	if len(root.Content) == 0 {
		return lines, nil // an empty file: every default
	}
	walk(root.Content[0], "", lines)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		err = locate(yamlErr(name, err), &root)
		var ye *Error
		if errors.As(err, &ye) && strings.HasSuffix(ye.Msg, " into "+strings.TrimPrefix(fmt.Sprintf("%T", v), "*")) {
			ye.Msg = "the file is not a mapping of keys (key: value); see the commented example"
		}
		return lines, err
	}
	return lines, nil
}

func walk(n *yaml.Node, prefix string, lines Lines) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if prefix != "" {
				p = prefix + "." + p
			}
			lines[p] = n.Content[i].Line
			walk(n.Content[i+1], p, lines)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", prefix, i)
			lines[p] = c.Line
			walk(c, p, lines)
		}
	}
}

// Explain turns an error of the yaml decoder into an *Error naming the
// file and the line (found in root, the document's node tree, when the
// decoder's message quotes the value but gives no line; root may be
// nil), on one line, with an unknown field said as an unknown key. Other
// readers of YAML files (kiosk.yaml) use it for their own types.
func Explain(name string, err error, root *yaml.Node) *Error {
	e := yamlErr(name, err)
	if root != nil {
		e = locate(e, root)
	}
	var ye *Error
	errors.As(e, &ye)
	return ye
}

func yamlErr(name string, err error) error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 0
	if strings.HasPrefix(msg, "line ") {
		fmt.Sscanf(msg, "line %d:", &line)
		if i := strings.Index(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
	}
	// A value quoted in the message may hold line breaks: one problem is
	// one line.
	msg = strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(msg)
	if m := unknownField.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("unknown key %q (a typo? every key is in the commented example)", m[1])
	}
	return &Error{File: name, Line: line, Msg: msg}
}

var unknownField = regexp.MustCompile(`^field (\S+) not found in type \S+$`)

// locate fills in the line of an error that has none by finding the
// scalar holding the value it quotes.
func locate(err error, root *yaml.Node) error {
	var ce *Error
	if !errors.As(err, &ce) || ce.Line > 0 {
		return err
	}
	i := strings.IndexByte(ce.Msg, '"')
	if i < 0 {
		return err
	}
	val, uerr := strconv.QuotedPrefix(ce.Msg[i:])
	if uerr != nil {
		return err
	}
	val, _ = strconv.Unquote(val)
	var find func(n *yaml.Node) int
	find = func(n *yaml.Node) int {
		if n.Kind == yaml.ScalarNode && n.Value == val {
			return n.Line
		}
		for _, c := range n.Content {
			if l := find(c); l > 0 {
				return l
			}
		}
		return 0
	}
	ce.Line = find(root)
	return ce
}
