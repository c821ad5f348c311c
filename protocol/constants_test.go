package protocol

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// stringConstants returns the string constants whose names start with prefix in the
// non-test Go files of directory, by name, read from the source: the tables that
// must cover every message type and error code are checked against what the code
// declares, so a new constant without a row fails the test.
func stringConstants(t *testing.T, directory, prefix string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(directory, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	constants := map[string]string{}
	fileSet := token.NewFileSet()
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fileSet, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, declaration := range file.Decls {
			general, ok := declaration.(*ast.GenDecl)
			if !ok || general.Tok != token.CONST {
				continue
			}
			for _, spec := range general.Specs {
				value := spec.(*ast.ValueSpec)
				for index, name := range value.Names {
					if !strings.HasPrefix(name.Name, prefix) || index >= len(value.Values) {
						continue
					}
					if literal, ok := value.Values[index].(*ast.BasicLit); ok && literal.Kind == token.STRING {
						constants[name.Name], _ = strconv.Unquote(literal.Value)
					}
				}
			}
		}
	}
	if len(constants) == 0 {
		t.Fatalf("no %s constants in %s", prefix, directory)
	}
	return constants
}

// checkCovered fails t unless covered holds exactly the values of constants.
func checkCovered(t *testing.T, what string, constants map[string]string, covered map[string]bool) {
	t.Helper()
	declared := map[string]bool{}
	for name, value := range constants {
		declared[value] = true
		if !covered[value] {
			t.Errorf("%s %s (%q) has no row in the table", what, name, value)
		}
	}
	var extra []string
	for value := range covered {
		if !declared[value] {
			extra = append(extra, value)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("the table has rows for %v, which no constant declares", extra)
	}
}
