package atlaskeys

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"strings"
	"testing"
)

// TestEveryExportedNameHasADocComment keeps `go doc` complete: every
// exported type, function, method, constant and variable of the library's
// packages carries a doc comment, and every package has a package comment.
func TestEveryExportedNameHasADocComment(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{".", "atlastest", "internal/digest", "internal/retry", "examples/internal/atlasenv"} {
		fset := token.NewFileSet()
		notTest := func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }
		pkgs, err := parser.ParseDir(fset, dir, notTest, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if len(pkgs) == 0 {
			t.Fatalf("%s: no package found", dir)
		}
		for _, pkg := range pkgs {
			hasPackageDoc := false
			for _, f := range pkg.Files {
				hasPackageDoc = hasPackageDoc || f.Doc != nil
				for _, decl := range f.Decls {
					for _, name := range undocumented(decl) {
						t.Errorf("%s: %s has no doc comment", fset.Position(name.Pos()), name.Name)
					}
				}
			}
			if !hasPackageDoc {
				t.Errorf("%s: package %s has no package comment", dir, pkg.Name)
			}
		}
	}
}

// undocumented returns the exported names that decl declares without a doc
// comment (methods count when their receiver type is exported).
func undocumented(decl ast.Decl) []*ast.Ident {
	var out []*ast.Ident
	switch d := decl.(type) {
	case *ast.FuncDecl:
		if !d.Name.IsExported() || d.Doc != nil || (d.Recv != nil && !exportedReceiver(d.Recv.List[0].Type)) {
			return nil
		}
		out = append(out, d.Name)
	case *ast.GenDecl:
		for _, spec := range d.Specs {
			switch s := spec.(type) {
			case *ast.TypeSpec:
				if s.Name.IsExported() && d.Doc == nil && s.Doc == nil {
					out = append(out, s.Name)
				}
			case *ast.ValueSpec:
				for _, n := range s.Names {
					if n.IsExported() && d.Doc == nil && s.Doc == nil && s.Comment == nil {
						out = append(out, n)
					}
				}
			}
		}
	}
	return out
}

func exportedReceiver(t ast.Expr) bool {
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
		case *ast.IndexExpr:
			t = x.X
		case *ast.IndexListExpr:
			t = x.X
		case *ast.Ident:
			return x.IsExported()
		default:
			return true
		}
	}
}
