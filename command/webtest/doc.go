// Package webtest tests the command centre's map page in a real browser
// (Debian's chromium through internal/browsertest) against the real
// command service: its store in a temporary directory, its HTTP server on
// 127.0.0.1, and results arriving from a real kiosk uplink and outbox over
// the kiosk websocket, so that every test crosses the whole path
//
//	kiosk outbox ─▶ uplink ─ws─▶ ingest ─▶ store ─▶ live hub ─ws─▶ page
//
// The package has no code of its own besides these tests; its helpers
// (a venue fixture, a restartable command service, a kiosk) live in the
// _test files.
package webtest
