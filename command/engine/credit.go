package engine

import (
	"cmp"
	"errors"
	"slices"

	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// openingScore is the score a new account starts from: the configured
// initial score when it falls in the business's current grade (from the
// site register), else the middle of that grade's band.
func openingScore(g assurance.Grade, pc assurance.Config) int {
	if !g.Valid() || pc.Grades.GradeOf(pc.Credit.Initial) == g {
		return pc.Credit.Initial
	}
	lo, hi := pc.Credit.Min, pc.Credit.Max
	for i, r := range pc.Grades {
		if r.Grade != g {
			continue
		}
		if i < len(pc.Grades)-1 {
			lo = r.MinScore
		}
		if i > 0 {
			hi = min(hi, pc.Grades[i-1].MinScore-1)
		}
	}
	return (lo + hi) / 2
}

// newCredit opens an account for a business, graded as the site register
// says.
func (e *Engine) newCredit(sub subject, ev assurance.CreditEvent) (Credit, error) {
	c, err := assurance.NewCredit(sub.business, ev.At, e.pc)
	if err != nil {
		return Credit{}, err
	}
	var site store.Site
	if e.st.Get("site", sub.id, &site) == nil {
		if g, err := assurance.ParseGrade(site.Grade); err == nil {
			c.Score = openingScore(g, e.pc)
			c.Grade = e.pc.Grades.GradeOf(c.Score)
			c.History = []assurance.GradeChange{{At: ev.At, To: c.Grade, Score: c.Score, Reason: assurance.CreditInitial, Source: assurance.CreditFromRegister}}
		}
	}
	return Credit{Credit: c, Name: cmp.Or(sub.name, site.Name), Kind: cmp.Or(sub.kind, site.Kind, "business")}, nil
}

// bookCredit applies a credit event to the business's account, once per
// (reason, ref): a result or a visit counted twice books once.
func (e *Engine) bookCredit(sub subject, ev assurance.CreditEvent) {
	if sub.business == "" || ev.Reason == "" {
		return
	}
	if _, err := e.Book(sub, ev); err != nil {
		e.log.Error("assure: credit booking failed", "business", sub.business, "reason", ev.Reason, "err", err)
	}
}

// Book applies a credit event and returns the account. A repeated
// (reason, ref) is not booked again.
func (e *Engine) Book(sub subject, ev assurance.CreditEvent) (Credit, error) {
	if ev.At.IsZero() {
		ev.At = e.deps.Now()
	}
	fresh, err := e.newCredit(sub, ev)
	if err != nil {
		return Credit{}, err
	}
	apply := func(c *Credit) error {
		if ev.Ref != "" && slices.ContainsFunc(c.Ledger, func(l assurance.CreditEntry) bool { return l.Ref == ev.Ref && l.Reason == ev.Reason }) {
			return nil
		}
		_, _, err := c.Apply(ev, e.pc)
		return err
	}
	if err := e.st.Create(kindCredit, sub.business, fresh); err != nil && !errors.Is(err, store.ErrConflict) {
		return Credit{}, err
	}
	c, err := store.Modify(e.st, kindCredit, sub.business, apply)
	if err != nil {
		return Credit{}, err
	}
	c.label()
	return c, nil
}

// label fills the view's labels, and the source of lines booked before
// sources were kept.
func (c *Credit) label() {
	c.GradeLabel = c.Grade.Label()
	for i := range c.Ledger {
		if c.Ledger[i].Source == "" {
			c.Ledger[i].Source = c.Ledger[i].Reason.DefaultSource()
		}
	}
	for i := range c.History {
		if c.History[i].Source == "" {
			c.History[i].Source = c.History[i].Reason.DefaultSource()
		}
	}
}

// RecordCredit books a credit event on a business by hand (a finding, a
// certification, a dishonesty listing). Inspectors, commanders, admins.
func (e *Engine) RecordCredit(business string, ev assurance.CreditEvent, actor assurance.Actor) (Credit, error) {
	switch actor.Role {
	case assurance.RoleAdmin, assurance.RoleCommander, assurance.RoleInspector:
	default:
		return Credit{}, &assurance.RoleError{Action: "credit " + business, Role: actor.Role,
			Allowed: []assurance.Role{assurance.RoleAdmin, assurance.RoleCommander, assurance.RoleInspector}}
	}
	if ev.Reason == assurance.CreditInitial {
		return Credit{}, &assurance.ValidationError{Field: "reason", Problem: "initial is booked when the account opens"}
	}
	ev.At = e.deps.Now()
	ev.Source, ev.By = assurance.CreditFromManual, actor.UserID
	sub := e.subjectOf(business)
	sub.business = business
	return e.Book(sub, ev)
}

// Vendors returns every credit account, worst grade first.
func (e *Engine) Vendors() ([]Credit, error) {
	cs, err := store.All[Credit](e.st, kindCredit)
	for i := range cs {
		cs[i].label()
	}
	slices.SortFunc(cs, func(a, b Credit) int {
		return cmp.Or(cmp.Compare(b.Grade.Risk(), a.Grade.Risk()), cmp.Compare(a.Score, b.Score), cmp.Compare(a.BusinessID, b.BusinessID))
	})
	return cs, err
}

// Vendor returns one credit account.
func (e *Engine) Vendor(id string) (Credit, error) {
	var c Credit
	if err := e.st.Get(kindCredit, id, &c); err != nil {
		return Credit{}, err
	}
	c.label()
	return c, nil
}
