package webtest

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/internal/browsertest"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// TestAdminPage: the admin disables a user, makes a token (shown once),
// revokes another and reads the audit log of it all, on a desktop and on
// a phone; a token named with markup shows as text; a viewer is told the
// page is for admins.
func TestAdminPage(t *testing.T) {
	requireAssets(t)
	b := browsertest.Start(t)
	cmd := startCommand(t, t.TempDir(), "127.0.0.1:0", command.Config{})
	seed(t, cmd.svc, makeVenue())
	addUser(t, cmd.svc, "li", "李检测", assurance.RoleOperator, "")
	addUser(t, cmd.svc, "zhou", "周只读", assurance.RoleViewer, "")
	const evil = `<img src=x onerror="window.__pwned=1">大屏`
	if _, _, err := cmd.svc.Auth().IssueToken("li", evil, adminUser, 30*24*time.Hour); err != nil {
		t.Fatal(err)
	}

	p := b.NewPage(t)
	login(p, cmd.url(), adminUser, adminPassword)
	p.WaitFor("the map", `document.body.dataset.state === 'app'`, 10*time.Second)
	p.Do(chromedp.Navigate(cmd.url() + "admin.html"))
	p.WaitFor("the users", `document.body.dataset.state === 'ready' && document.querySelectorAll('#users tbody tr').length === 3`, 10*time.Second)
	p.Screenshot("admin-users")
	browsertest.Eval[bool](p, `window.confirm = () => true; true`)

	// Disable li.
	p.Do(chromedp.Click(chromedp.CSS(`#users button[data-user="li"]`)))
	p.WaitFor("li disabled", `document.querySelector('#users button[data-user="li"]').dataset.act === 'enable'`, 10*time.Second)
	var li store.User
	if err := cmd.svc.Store().Get("user", "li", &li); err != nil || !li.Disabled {
		t.Fatalf("li after the click: %+v %v", li, err)
	}
	if got := browsertest.Eval[string](p, `document.querySelector('#users tr.off').textContent`); !strings.Contains(got, "已停用") || !strings.Contains(got, "检测员") {
		t.Fatalf("li's row: %q", got)
	}

	// Tokens: the markup name is text; make one for zhou; revoke li's.
	p.Do(chromedp.Click(chromedp.CSS(`.tabs button[data-tab="tokens"]`)))
	p.WaitFor("the tokens", `!document.querySelector('#tokens').hidden && document.querySelectorAll('#tokens tbody tr').length === 1`, 10*time.Second)
	if got := browsertest.Eval[bool](p, `document.querySelector('#tokens').textContent.includes('<img src=x') && !document.querySelector('#tokens img') && !window.__pwned`); !got {
		t.Fatal("the token's name did not render as text")
	}
	p.Do(chromedp.SetValue(chromedp.CSS(`#make-token select[name=user]`), "zhou"),
		chromedp.SendKeys(chromedp.CSS(`#make-token input[name=name]`), "值班大屏"),
		chromedp.Click(chromedp.CSS(`#make-token button[type=submit]`)))
	p.WaitFor("the new token shown once", `document.querySelector('#made-token') && document.querySelectorAll('#tokens tbody tr').length === 2`, 10*time.Second)
	made := browsertest.Eval[string](p, `document.querySelector('#made-token .mono').textContent`)
	if u, err := cmd.svc.Auth().Valid("token:" + store.HashToken(made)); err != nil || u.Name != "zhou" {
		t.Fatalf("the token the page showed: %q %v", made, err)
	}
	p.Screenshot("admin-tokens")
	ts, _ := cmd.svc.Auth().Tokens()
	var evilID string
	for _, tk := range ts {
		if tk.User == "li" {
			evilID = tk.ID
		}
	}
	p.Do(chromedp.Click(chromedp.CSS(`#tokens button[data-token="` + evilID + `"]`)))
	p.WaitFor("the revoked token gone", `document.querySelectorAll('#tokens tbody tr').length === 1`, 10*time.Second)
	if ts, _ := cmd.svc.Auth().Tokens(); len(ts) != 1 || ts[0].User != "zhou" {
		t.Fatalf("tokens after the revocation: %+v", ts)
	}

	// The audit log has all of it.
	p.Do(chromedp.Click(chromedp.CSS(`.tabs button[data-tab="audit"]`)))
	p.Do(chromedp.Navigate(cmd.url() + "admin.html?tab=audit"))
	p.WaitFor("the audit log", `document.body.dataset.state === 'ready' && document.querySelectorAll('#audit tbody tr').length >= 4`, 10*time.Second)
	text := browsertest.Eval[string](p, `document.querySelector('#audit').textContent`)
	for _, want := range []string{"PATCH /api/v1/users/li", "POST /api/v1/tokens", "DELETE /api/v1/tokens/" + evilID, "登录", "变更", "127.0.0.1"} {
		if !strings.Contains(text, want) {
			t.Errorf("the audit log lacks %q", want)
		}
	}
	p.Screenshot("admin-audit")

	// On a phone.
	p.Do(chromedp.EmulateViewport(390, 844))
	p.Do(chromedp.Navigate(cmd.url() + "admin.html?tab=users"))
	p.WaitFor("the users on a phone", `document.body.dataset.state === 'ready'`, 10*time.Second)
	p.Screenshot("admin-users-phone")
	p.Do(chromedp.Navigate(cmd.url() + "admin.html?tab=audit"))
	p.WaitFor("the audit log on a phone", `document.body.dataset.state === 'ready'`, 10*time.Second)
	p.Screenshot("admin-audit-phone")
	if w := browsertest.Eval[int](p, `document.documentElement.scrollWidth`); w > 400 {
		t.Errorf("the phone layout is %d px wide (scrolls sideways)", w)
	}

	// A viewer is told the page is not for them.
	q := p
	q.Do(chromedp.EmulateViewport(1280, 800))
	browsertest.EvalAsync[bool](q, `fetch('/api/v1/logout', {method: 'POST', headers: {'Content-Type': 'application/json'}}).then(() => true)`)
	login(q, cmd.url(), "zhou", peoplePassword)
	q.WaitFor("the map", `document.body.dataset.state === 'app'`, 10*time.Second)
	q.Do(chromedp.Navigate(cmd.url() + "admin.html"))
	q.WaitFor("the refusal", `document.body.dataset.state === 'error'`, 10*time.Second)
	if got := browsertest.Eval[string](q, `document.querySelector('#error').textContent`); got != "本页仅管理员可用" {
		t.Fatalf("a viewer sees %q", got)
	}
	if ex := p.Exceptions(); len(ex) > 0 {
		t.Fatalf("exceptions: %v", ex)
	}
}
