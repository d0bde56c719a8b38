package profile

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
)

//go:embed builtin/*.yaml
var builtinFS embed.FS

// DefaultDir is where a kiosk looks for the profiles an installer adds.
const DefaultDir = "/etc/shian/profiles"

// Library is a set of profiles by name: the built-in ones and those of a
// directory. It is safe for concurrent use once built.
type Library struct {
	byName map[string]*Profile
	// Overridden names the built-in profiles a directory's profile
	// replaced.
	Overridden []string
}

var (
	builtinOnce sync.Once
	builtinLib  *Library
)

// Builtin returns the built-in profiles (builtin/*.yaml).
func Builtin() *Library {
	builtinOnce.Do(func() {
		lib, err := load(builtinFS, "builtin", "builtin", nil)
		if err != nil {
			panic("profile: a built-in profile is invalid: " + err.Error()) // TestBuiltin catches it first
		}
		builtinLib = lib
	})
	return builtinLib
}

// Load returns the built-in profiles and every *.yaml (or *.yml) file at
// the top of fsys, read as the directory named dir (for messages). A
// profile there with the name of a built-in one replaces it (listed in
// Overridden). Every invalid file is reported, each problem with its
// file and line; two files with one name are an error.
func Load(fsys fs.FS, dir string) (*Library, error) {
	return load(fsys, ".", dir, Builtin())
}

func load(fsys fs.FS, root, dir string, base *Library) (*Library, error) {
	lib := &Library{byName: map[string]*Profile{}}
	if base != nil {
		for k, v := range base.byName {
			lib.byName[k] = v
		}
	}
	entries, err := fs.ReadDir(fsys, root)
	if err != nil {
		return nil, fmt.Errorf("profiles in %s: %w", dir, err)
	}
	var errs []error
	from := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		file := path.Join(dir, name)
		b, err := fs.ReadFile(fsys, path.Join(root, name))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", file, err))
			continue
		}
		p, err := Parse(file, b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if other, dup := from[p.Name]; dup {
			errs = append(errs, &Error{File: file, Msg: fmt.Sprintf("profile %s is also in %s; give each profile its own name", p.Name, other)})
			continue
		}
		from[p.Name] = file
		if base != nil {
			if _, ok := base.byName[p.Name]; ok {
				lib.Overridden = append(lib.Overridden, p.Name)
			}
		}
		lib.byName[p.Name] = p
	}
	slices.Sort(lib.Overridden)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return lib, nil
}

// Add puts p in the library (replacing a profile of its name).
func (l *Library) Add(p *Profile) {
	if l.byName == nil {
		l.byName = map[string]*Profile{}
	}
	l.byName[p.Name] = p
}

// Names lists the profiles, sorted.
func (l *Library) Names() []string { return sortedKeys(l.byName) }

// ErrUnknown is matched by Lookup's error for a name not in the library.
var ErrUnknown = errors.New("profile: no such profile")

// Lookup returns the profile of the given name.
func (l *Library) Lookup(name string) (*Profile, error) {
	if p, ok := l.byName[name]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("%w %q (known: %s; add its file to %s)", ErrUnknown, name, strings.Join(l.Names(), ", "), DefaultDir)
}
