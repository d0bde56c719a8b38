package geo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
)

// Kind says what a feature is; it is the "kind" property in GeoJSON and
// decides which geometry and properties the feature must have.
type Kind string

// Feature kinds. Areas are Polygon or MultiPolygon; everything else is a
// Point.
const (
	KindVenue   Kind = "venue"   // 活动场馆: area
	KindZone    Kind = "zone"    // 摊贩集中区 vendor zone: area
	KindStall   Kind = "stall"   // 摊位: point; property "zone" (the zone id) required
	KindKitchen Kind = "kitchen" // 供餐点/厨房: point
	KindBanquet Kind = "banquet" // 农村集体聚餐 site: point
	KindTeam    Kind = "team"    // 保障组 home point: point
	KindKiosk   Kind = "kiosk"   // 快检终端: point
)

type kindRule struct {
	area     bool     // Polygon/MultiPolygon, else Point
	required []string // string properties that must be present and non-empty
}

var kindRules = map[Kind]kindRule{
	KindVenue:   {area: true},
	KindZone:    {area: true},
	KindStall:   {required: []string{"zone"}},
	KindKitchen: {},
	KindBanquet: {},
	KindTeam:    {},
	KindKiosk:   {},
}

// Kinds lists the known kinds in a stable order.
func Kinds() []Kind {
	return []Kind{KindVenue, KindZone, KindStall, KindKitchen, KindBanquet, KindTeam, KindKiosk}
}

// Property names with a fixed meaning.
const (
	PropKind   = "kind"
	PropName   = "name"    // zh-CN name, required
	PropNameEN = "name_en" // English name, optional
	PropZone   = "zone"    // a stall's zone id
)

// Feature is one GeoJSON feature: a zone, stall, kitchen, banquet site, team
// or kiosk.
type Feature struct {
	// ID is the GeoJSON "id" member (a number id is kept as its decimal
	// text). Required and unique within a collection.
	ID   string
	Kind Kind
	// Name is the zh-CN display name (property "name"), required.
	Name string
	// NameEN is the English name (property "name_en"), optional.
	NameEN string
	// Geometry is an orb.Point for point kinds, an orb.Polygon or
	// orb.MultiPolygon for areas; coordinates are WGS-84 [lon, lat].
	Geometry orb.Geometry
	// Properties holds every other property, as encoding/json decodes it
	// (numbers are float64). Keys "kind", "name" and "name_en" are taken
	// from the fields above on export.
	Properties map[string]any
}

// Point returns the feature's position when its geometry is a point.
func (f Feature) Point() (orb.Point, bool) {
	p, ok := f.Geometry.(orb.Point)
	return p, ok
}

// Prop returns the string property key, or "" when it is absent or not a
// string.
func (f Feature) Prop(key string) string {
	s, _ := f.Properties[key].(string)
	return s
}

// Validate checks the feature on its own: id, kind, name, required
// properties, geometry type for the kind, and geometry (see the package doc
// for the rules). The *Error it returns has Feature -1.
func (f Feature) Validate() error {
	if e := f.validate(DefaultLimits); e != nil {
		return e
	}
	return nil
}

func (f Feature) validate(lim Limits) *Error {
	if f.ID == "" {
		return errorf(CodeProperty, -1, "", "id", "feature has no id; give every feature a unique \"id\"")
	}
	rule, ok := kindRules[f.Kind]
	if !ok {
		if f.Kind == "" {
			return errorf(CodeProperty, -1, f.ID, "properties.kind", "property \"kind\" is missing; set it to one of %s", kindList())
		}
		return errorf(CodeProperty, -1, f.ID, "properties.kind", "kind %q is not known; use one of %s", f.Kind, kindList())
	}
	if strings.TrimSpace(f.Name) == "" {
		return errorf(CodeProperty, -1, f.ID, "properties.name", "property \"name\" is missing or empty; every %s needs a display name", f.Kind)
	}
	for _, key := range rule.required {
		if v, ok := f.Properties[key].(string); !ok || strings.TrimSpace(v) == "" {
			return errorf(CodeProperty, -1, f.ID, "properties."+key, "a %s needs a non-empty string property %q", f.Kind, key)
		}
	}
	switch f.Geometry.(type) {
	case orb.Point:
		if rule.area {
			return errorf(CodeWrongType, -1, f.ID, "geometry.type", "a %s must be a Polygon or MultiPolygon, not a Point", f.Kind)
		}
	case orb.Polygon, orb.MultiPolygon:
		if !rule.area {
			return errorf(CodeWrongType, -1, f.ID, "geometry.type", "a %s must be a Point, not a %s", f.Kind, f.Geometry.GeoJSONType())
		}
	}
	if e := validateGeometry(f.Geometry, lim); e != nil {
		e.ID = f.ID
		return e
	}
	return nil
}

func kindList() string {
	var s []string
	for _, k := range Kinds() {
		s = append(s, string(k))
	}
	return strings.Join(s, ", ")
}

// FeatureCollection is a GeoJSON FeatureCollection of [Feature]s.
type FeatureCollection struct {
	Features []Feature
}

// Validate checks every feature and that ids are unique. The *Error names
// the first bad feature by index and id.
func (fc FeatureCollection) Validate() error {
	if e := fc.validate(DefaultLimits); e != nil {
		return e
	}
	return nil
}

func (fc FeatureCollection) validate(lim Limits) *Error {
	seen := make(map[string]int, len(fc.Features))
	for i, f := range fc.Features {
		if e := f.validate(lim); e != nil {
			return e.at(i, f.ID, "")
		}
		if j, dup := seen[f.ID]; dup {
			return errorf(CodeDuplicateID, i, f.ID, "id", "id %q is already used by feature %d; ids must be unique", f.ID, j)
		}
		seen[f.ID] = i
	}
	return nil
}

// Limits caps what the decoder accepts, so that an upload cannot exhaust
// memory or CPU. A zero field means the DefaultLimits value.
type Limits struct {
	MaxBytes         int64 // whole document
	MaxFeatures      int   // features in the collection
	MaxPositions     int   // positions over all features
	MaxRingPositions int   // positions in one ring
}

// DefaultLimits fit a large event (tens of thousands of stalls, detailed
// zones) with room to spare.
var DefaultLimits = Limits{
	MaxBytes:         32 << 20,
	MaxFeatures:      100_000,
	MaxPositions:     2_000_000,
	MaxRingPositions: 20_000,
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxFeatures <= 0 {
		l.MaxFeatures = DefaultLimits.MaxFeatures
	}
	if l.MaxPositions <= 0 {
		l.MaxPositions = DefaultLimits.MaxPositions
	}
	if l.MaxRingPositions <= 0 {
		l.MaxRingPositions = DefaultLimits.MaxRingPositions
	}
	return l
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// DecodeFeatureCollection reads one GeoJSON FeatureCollection (RFC 7946)
// from r and validates it. Every failure is an *Error naming the feature by
// index and id, with a Code (see [Error]). Rings may be wound either way;
// the decoder keeps them as given ([FeatureCollection.Encode] rewinds them).
// Foreign members and "bbox" are ignored; altitude is dropped.
func DecodeFeatureCollection(r io.Reader, lim Limits) (FeatureCollection, error) {
	fc, _, err := decodeWith(r, lim, Mapping{}, false)
	return fc, err
}

// Mapping says which properties of a file made elsewhere (a QGIS export,
// geojson.io) hold what Shian needs. The zero Mapping reads Shian's own
// names: the "id" member, properties "name" and "kind".
type Mapping struct {
	// ID names a property holding each feature's id (e.g. "fid",
	// "OBJECTID", "iso_a3"); it is used instead of the "id" member.
	ID string
	// Name names the property holding the display name (e.g. "NAME",
	// "name_zh"); it is used instead of "name".
	Name string
	// Kind is the kind of every feature that has no "kind" property
	// (a zone file from QGIS has none).
	Kind Kind
}

// Decoded is what [DecodeAll] read: the valid features, and every
// problem with the others.
type Decoded struct {
	FeatureCollection
	// Problems lists every feature that could not be taken, in file
	// order, each naming the feature by index and id and what is wrong.
	Problems []*Error
	// Total is the number of features in the file.
	Total int
}

// DecodeAll reads a FeatureCollection as DecodeFeatureCollection does,
// with property mapping, but a bad feature does not end the read: every
// feature is checked, and each bad one (bad geometry, missing id or name,
// an id used twice — the later ones) is listed in Problems while the
// others are kept. Only a problem with the document as a whole (not
// JSON, not a FeatureCollection, over the limits) is an error.
func DecodeAll(r io.Reader, lim Limits, m Mapping) (Decoded, error) {
	fc, probs, err := decodeWith(r, lim, m, true)
	if err != nil {
		return Decoded{}, err
	}
	return Decoded{FeatureCollection: fc, Problems: probs, Total: len(fc.Features) + len(probs)}, nil
}

func decodeWith(r io.Reader, lim Limits, m Mapping, all bool) (FeatureCollection, []*Error, error) {
	lim = lim.withDefaults()
	if m.Kind != "" {
		if _, ok := kindRules[m.Kind]; !ok {
			return FeatureCollection{}, nil, errorf(CodeInvalidArgument, -1, "", "kind", "kind %q is not known; use one of %s", m.Kind, kindList())
		}
	}
	cr := &countingReader{r: io.LimitReader(r, lim.MaxBytes+1)}
	var probs []*Error
	var collect func(*Error)
	if all {
		collect = func(e *Error) { probs = append(probs, e) }
	}
	fc, err := decodeFC(cr, lim, m, collect)
	if cr.n > lim.MaxBytes {
		return FeatureCollection{}, nil, errorf(CodeTooLarge, -1, "", "", "document is over the limit of %d bytes; split it", lim.MaxBytes)
	}
	if err != nil {
		return FeatureCollection{}, nil, err
	}
	return fc, probs, nil
}

func syntaxErr(feature int, id, path string, err error) *Error {
	msg := "malformed JSON"
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		msg = "wrong JSON shape"
	}
	return &Error{Code: CodeSyntax, Feature: feature, ID: id, Path: path, Msg: msg, Err: err}
}

// decodeFC reads the collection. With collect nil the first bad feature
// ends it; else every bad feature goes to collect and the read goes on.
func decodeFC(r io.Reader, lim Limits, m Mapping, collect func(*Error)) (FeatureCollection, *Error) {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		return FeatureCollection{}, syntaxErr(-1, "", "", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return FeatureCollection{}, errorf(CodeWrongType, -1, "", "", "document is not a JSON object; send a GeoJSON FeatureCollection")
	}
	var (
		fc        FeatureCollection
		typ       string
		sawType   bool
		sawFeats  bool
		positions int
		seen      = map[string]int{}
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return FeatureCollection{}, syntaxErr(-1, "", "", err)
		}
		key, _ := tok.(string)
		switch key {
		case "type":
			if err := dec.Decode(&typ); err != nil {
				return FeatureCollection{}, syntaxErr(-1, "", "type", err)
			}
			sawType = true
		case "features":
			sawFeats = true
			tok, err := dec.Token()
			if err != nil {
				return FeatureCollection{}, syntaxErr(-1, "", "features", err)
			}
			if d, ok := tok.(json.Delim); !ok || d != '[' {
				return FeatureCollection{}, errorf(CodeSyntax, -1, "", "features", "\"features\" must be an array of Feature objects")
			}
			index := 0
			for dec.More() {
				i := index
				if i >= lim.MaxFeatures {
					return FeatureCollection{}, errorf(CodeTooLarge, i, "", "", "more than %d features; split the collection", lim.MaxFeatures)
				}
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return FeatureCollection{}, syntaxErr(i, "", "", err)
				}
				f, n, e := decodeFeature(raw, lim, m)
				// Positions count whether the feature is valid or not:
				// the caps bound the work, not the result.
				positions += n
				if positions > lim.MaxPositions {
					return FeatureCollection{}, errorf(CodeTooLarge, i, f.ID, "", "more than %d positions in the collection; simplify or split it", lim.MaxPositions)
				}
				if e == nil {
					if j, dup := seen[f.ID]; dup {
						e = errorf(CodeDuplicateID, i, f.ID, "id", "id %q is already used by feature %d; ids must be unique", f.ID, j)
					}
				}
				if e != nil {
					e = e.at(i, f.ID, "")
					if collect == nil {
						return FeatureCollection{}, e
					}
					collect(e)
					index++
					continue
				}
				seen[f.ID] = i
				fc.Features = append(fc.Features, f)
				index++
			}
			if _, err := dec.Token(); err != nil { // ']'
				return FeatureCollection{}, syntaxErr(-1, "", "features", err)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return FeatureCollection{}, syntaxErr(-1, "", key, err)
			}
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return FeatureCollection{}, syntaxErr(-1, "", "", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return FeatureCollection{}, errorf(CodeSyntax, -1, "", "", "data after the FeatureCollection object; send exactly one JSON document")
	}
	if !sawType || typ != "FeatureCollection" {
		return FeatureCollection{}, errorf(CodeWrongType, -1, "", "type", "document type is %q; send a GeoJSON \"FeatureCollection\"", typ)
	}
	if !sawFeats {
		return FeatureCollection{}, errorf(CodeSyntax, -1, "", "features", "FeatureCollection has no \"features\" array")
	}
	if fc.Features == nil {
		fc.Features = []Feature{}
	}
	return fc, nil
}

type rawFeature struct {
	Type       *string         `json:"type"`
	ID         json.RawMessage `json:"id"`
	Geometry   json.RawMessage `json:"geometry"`
	Properties json.RawMessage `json:"properties"`
}

type rawGeometry struct {
	Type        *string         `json:"type"`
	Coordinates json.RawMessage `json:"coordinates"`
}

// decodeFeature parses and validates one feature; it returns the number of
// positions it holds.
func decodeFeature(raw []byte, lim Limits, m Mapping) (Feature, int, *Error) {
	var f Feature
	var rf rawFeature
	if err := json.Unmarshal(raw, &rf); err != nil {
		return f, 0, syntaxErr(-1, "", "", err)
	}
	if m.ID != "" {
		id, e := mappedID(rf.Properties, m.ID)
		if e != nil {
			return f, 0, e
		}
		f.ID = id
	} else if id, e := decodeID(rf.ID); e != nil {
		return f, 0, e
	} else {
		f.ID = id
	}
	if rf.Type == nil || *rf.Type != "Feature" {
		got := "missing"
		if rf.Type != nil {
			got = strconv.Quote(*rf.Type)
		}
		return f, 0, errorf(CodeWrongType, -1, f.ID, "type", "feature type is %s; each element of \"features\" must have \"type\": \"Feature\"", got)
	}
	props, e := decodeProps(rf.Properties)
	if e != nil {
		return f, 0, e
	}
	if k, ok := props[PropKind].(string); ok {
		f.Kind = Kind(k)
	} else if _, present := props[PropKind]; present {
		return f, 0, errorf(CodeProperty, -1, f.ID, "properties.kind", "property \"kind\" must be a string, one of %s", kindList())
	} else if m.Kind != "" {
		f.Kind = m.Kind
	}
	nameProp := PropName
	if m.Name != "" {
		nameProp = m.Name
	}
	if n, ok := props[nameProp].(string); ok {
		f.Name = n
	} else if _, present := props[nameProp]; present {
		return f, 0, errorf(CodeProperty, -1, f.ID, "properties."+nameProp, "property %q must be a string", nameProp)
	} else if m.Name != "" {
		return f, 0, errorf(CodeProperty, -1, f.ID, "properties."+nameProp, "property %q (the name, as mapped) is missing; every feature needs a display name", nameProp)
	}
	if m.Name != "" && m.Name != PropName {
		delete(props, m.Name)
	}
	if n, ok := props[PropNameEN].(string); ok {
		f.NameEN = n
	} else if v, present := props[PropNameEN]; present && v != nil {
		return f, 0, errorf(CodeProperty, -1, f.ID, "properties.name_en", "property \"name_en\" must be a string")
	}
	delete(props, PropKind)
	delete(props, PropName)
	delete(props, PropNameEN)
	f.Properties = props

	g, n, e := decodeGeometry(rf.Geometry, lim)
	if e != nil {
		e.ID = f.ID
		return f, 0, e
	}
	f.Geometry = g
	if e := f.validate(lim); e != nil {
		return f, 0, e
	}
	return f, n, nil
}

// mappedID reads the id from the property key.
func mappedID(rawProps json.RawMessage, key string) (string, *Error) {
	props, e := decodeProps(rawProps)
	if e != nil {
		return "", e
	}
	switch v := props[key].(type) {
	case string:
		if strings.TrimSpace(v) != "" {
			return v, nil
		}
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	}
	return "", errorf(CodeProperty, -1, "", "properties."+key, "property %q (the id, as mapped) is missing or empty; every feature needs a unique id", key)
}

func decodeID(raw json.RawMessage) (string, *Error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", errorf(CodeProperty, -1, "", "id", "feature has no \"id\"; give every feature a unique string id")
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", syntaxErr(-1, "", "id", err)
		}
		if s == "" {
			return "", errorf(CodeProperty, -1, "", "id", "feature \"id\" is empty; give every feature a unique string id")
		}
		return s, nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return string(raw), nil
	}
	return "", errorf(CodeProperty, -1, "", "id", "feature \"id\" must be a string or a number")
}

func decodeProps(raw json.RawMessage) (map[string]any, *Error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errorf(CodeProperty, -1, "", "properties", "\"properties\" must be an object with at least \"kind\" and \"name\"")
	}
	var props map[string]any
	if err := json.Unmarshal(raw, &props); err != nil {
		return nil, syntaxErr(-1, "", "properties", err)
	}
	if props == nil {
		props = map[string]any{}
	}
	return props, nil
}

func decodeGeometry(raw json.RawMessage, lim Limits) (orb.Geometry, int, *Error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, 0, errorf(CodeEmpty, -1, "", "geometry", "feature has no geometry; every feature needs a Point, Polygon or MultiPolygon")
	}
	var rg rawGeometry
	if err := json.Unmarshal(raw, &rg); err != nil {
		return nil, 0, syntaxErr(-1, "", "geometry", err)
	}
	if rg.Type == nil {
		return nil, 0, errorf(CodeWrongType, -1, "", "geometry.type", "geometry has no \"type\"; use Point, Polygon or MultiPolygon")
	}
	const path = "geometry.coordinates"
	switch *rg.Type {
	case "Point":
		var c []json.RawMessage
		if err := unmarshalCoords(rg.Coordinates, &c); err != nil {
			return nil, 0, shapeErr(err, "Point coordinates are one position [lon, lat]")
		}
		p, e := parsePosition(c, path)
		if e != nil {
			return nil, 0, e
		}
		return p, 1, nil
	case "Polygon":
		var c [][][]json.RawMessage
		if err := unmarshalCoords(rg.Coordinates, &c); err != nil {
			return nil, 0, shapeErr(err, "Polygon coordinates are an array of rings, each an array of [lon, lat] positions")
		}
		p, n, e := parsePolygon(c, lim, path)
		if e != nil {
			return nil, 0, e
		}
		return p, n, nil
	case "MultiPolygon":
		var c [][][][]json.RawMessage
		if err := unmarshalCoords(rg.Coordinates, &c); err != nil {
			return nil, 0, shapeErr(err, "MultiPolygon coordinates are an array of Polygon coordinate arrays")
		}
		mp := make(orb.MultiPolygon, 0, len(c))
		total := 0
		for i, pc := range c {
			p, n, e := parsePolygon(pc, lim, fmt.Sprintf("%s[%d]", path, i))
			if e != nil {
				return nil, 0, e
			}
			total += n
			mp = append(mp, p)
		}
		return mp, total, nil
	}
	return nil, 0, errorf(CodeWrongType, -1, "", "geometry.type", "geometry type %q is not supported; use Point, Polygon or MultiPolygon", *rg.Type)
}

func unmarshalCoords(raw json.RawMessage, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		return errors.New("\"coordinates\" is missing")
	}
	return json.Unmarshal(raw, v)
}

func shapeErr(err error, hint string) *Error {
	return &Error{Code: CodeSyntax, Feature: -1, Path: "geometry.coordinates", Msg: hint, Err: err}
}

func parsePolygon(c [][][]json.RawMessage, lim Limits, path string) (orb.Polygon, int, *Error) {
	p := make(orb.Polygon, 0, len(c))
	n := 0
	for i, rc := range c {
		rp := fmt.Sprintf("%s[%d]", path, i)
		if len(rc) > lim.MaxRingPositions {
			return nil, 0, errorf(CodeTooLarge, -1, "", rp, "ring has %d positions, over the limit of %d; simplify the boundary", len(rc), lim.MaxRingPositions)
		}
		ring := make(orb.Ring, 0, len(rc))
		for j, pc := range rc {
			pt, e := parsePosition(pc, fmt.Sprintf("%s[%d]", rp, j))
			if e != nil {
				return nil, 0, e
			}
			ring = append(ring, pt)
		}
		n += len(ring)
		p = append(p, ring)
	}
	if len(p) == 0 {
		return nil, 0, errorf(CodeEmpty, -1, "", path, "Polygon has no rings; the first ring is the outer boundary")
	}
	return p, n, nil
}

func parsePosition(c []json.RawMessage, path string) (orb.Point, *Error) {
	if len(c) < 2 || len(c) > 3 {
		return orb.Point{}, errorf(CodeBadPosition, -1, "", path, "a position has %d numbers; send [lon, lat] or [lon, lat, altitude]", len(c))
	}
	var p orb.Point
	for k := range 2 {
		raw := bytes.TrimSpace(c[k])
		if len(raw) == 0 || !(raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')) {
			return orb.Point{}, errorf(CodeSyntax, -1, "", path, "coordinate %s is not a JSON number", truncate(string(raw), 40))
		}
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return orb.Point{}, errorf(CodeSyntax, -1, "", path, "coordinate %s is not a number", truncate(string(raw), 40))
		}
		if math.IsInf(f, 0) {
			return orb.Point{}, errorf(CodeNotFinite, -1, "", path, "coordinate %s overflows a float64; send decimal degrees", truncate(string(raw), 40))
		}
		p[k] = f
	}
	if len(c) == 3 {
		raw := bytes.TrimSpace(c[2])
		if _, err := strconv.ParseFloat(string(raw), 64); len(raw) == 0 || !(raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')) || (err != nil && !errors.Is(err, strconv.ErrRange)) {
			return orb.Point{}, errorf(CodeSyntax, -1, "", path, "altitude %s is not a JSON number", truncate(string(raw), 40))
		}
	}
	if e := checkPosition(p); e != nil {
		e.Path = path
		return orb.Point{}, e
	}
	return p, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

type jsonFeature struct {
	Type       string         `json:"type"`
	ID         string         `json:"id"`
	Geometry   jsonGeometry   `json:"geometry"`
	Properties map[string]any `json:"properties"`
}

type jsonGeometry struct {
	Type        string `json:"type"`
	Coordinates any    `json:"coordinates"`
}

type jsonFC struct {
	Type     string        `json:"type"`
	Features []jsonFeature `json:"features"`
}

// Encode validates fc and writes it as one GeoJSON FeatureCollection
// followed by a newline. Polygon rings are rewound to the right-hand rule
// (outer counterclockwise, holes clockwise, RFC 7946 §3.1.6). Properties
// keep their keys, plus "kind", "name" and "name_en" (when set) from the
// fields. Nothing is written when fc is invalid.
func (fc FeatureCollection) Encode(w io.Writer) error {
	if e := fc.validate(DefaultLimits); e != nil {
		return e
	}
	out := jsonFC{Type: "FeatureCollection", Features: make([]jsonFeature, 0, len(fc.Features))}
	for _, f := range fc.Features {
		props := maps.Clone(f.Properties)
		if props == nil {
			props = map[string]any{}
		}
		props[PropKind] = string(f.Kind)
		props[PropName] = f.Name
		if f.NameEN != "" {
			props[PropNameEN] = f.NameEN
		} else {
			delete(props, PropNameEN)
		}
		jf := jsonFeature{Type: "Feature", ID: f.ID, Properties: props}
		switch g := f.Geometry.(type) {
		case orb.Point:
			jf.Geometry = jsonGeometry{Type: "Point", Coordinates: g}
		case orb.Polygon:
			jf.Geometry = jsonGeometry{Type: "Polygon", Coordinates: orientForExport(g)}
		case orb.MultiPolygon:
			mp := make(orb.MultiPolygon, len(g))
			for i, p := range g {
				mp[i] = orientForExport(p)
			}
			jf.Geometry = jsonGeometry{Type: "MultiPolygon", Coordinates: mp}
		}
		out.Features = append(out.Features, jf)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return &Error{Code: CodeProperty, Feature: -1, Msg: "a property value cannot be written as JSON", Err: err}
	}
	_, err := w.Write(buf.Bytes())
	return err
}
