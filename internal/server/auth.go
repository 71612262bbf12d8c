package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ladderhq/ladder/internal/auth"
	"github.com/ladderhq/ladder/internal/store"
)

// Who may do what is decided here, at the edge, from credentials alone:
// an Authorization: Bearer token (the CLI, scripts, other agents) or the
// dashboard's session cookie, which a one-time login link opened. No
// request body names who acts.

// Session and login lifetimes.
const (
	sessionCookie = "ladder_session"
	// csrfField is the form field, csrfHeader the fetch header, that carry
	// a session's CSRF token on every mutation.
	csrfField  = "csrf"
	csrfHeader = "X-CSRF-Token"
	loginTTL   = 2 * time.Minute
	sessionTTL = 12 * time.Hour
)

// caller is who sent a request: the principal, how it authenticated, and
// the credential to act on other agents with (bearer only).
type caller struct {
	p auth.Principal
	// credential is the bearer token; empty for a session.
	credential string
	session    *session
}

type callerKey struct{}

func callerOf(ctx context.Context) (*caller, bool) {
	c, ok := ctx.Value(callerKey{}).(*caller)
	return c, ok
}

// session is a dashboard login. It keeps the credential that opened it,
// so the principal is authenticated again on every request: a revoked or
// expired token ends its sessions too.
type session struct {
	credential string
	csrf       string
	expires    time.Time
}

type loginCode struct {
	credential string
	expires    time.Time
}

// sessions holds logins and the one-time codes that open them, in memory:
// a restarted agent asks people to log in again.
type sessions struct {
	mu       sync.Mutex
	codes    map[string]loginCode
	sessions map[string]*session
}

func newSessions() *sessions {
	return &sessions{codes: map[string]loginCode{}, sessions: map[string]*session{}}
}

func randomString() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (ss *sessions) newCode(credential string, now time.Time) (string, time.Time) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for c, l := range ss.codes {
		if !now.Before(l.expires) {
			delete(ss.codes, c)
		}
	}
	code := randomString()
	exp := now.Add(loginTTL)
	ss.codes[code] = loginCode{credential: credential, expires: exp}
	return code, exp
}

// redeem spends a code: it works once, before it expires.
func (ss *sessions) redeem(code string, now time.Time) (string, *session, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	l, ok := ss.codes[code]
	delete(ss.codes, code)
	if !ok || !now.Before(l.expires) {
		return "", nil, false
	}
	for id, s := range ss.sessions {
		if !now.Before(s.expires) {
			delete(ss.sessions, id)
		}
	}
	id := randomString()
	s := &session{credential: l.credential, csrf: randomString(), expires: now.Add(sessionTTL)}
	ss.sessions[id] = s
	return id, s, true
}

func (ss *sessions) get(id string, now time.Time) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.sessions[id]
	if !ok || !now.Before(s.expires) {
		delete(ss.sessions, id)
		return nil
	}
	return s
}

// errNoAuthenticator is a server built without a way to check
// credentials: it refuses every mutation rather than accept them all.
var errNoAuthenticator = errors.New("this agent checks no credentials, so it accepts no changes")

// identify finds the request's caller, or nil when it sent no
// credential. A credential that does not authenticate is an error that
// errors.Is auth.ErrUnauthenticated.
func (s *server) identify(r *http.Request) (*caller, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, cred, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(cred) == "" {
			return nil, errors.Join(errors.New("the Authorization header must be Bearer TOKEN"), auth.ErrUnauthenticated)
		}
		cred = strings.TrimSpace(cred)
		p, err := s.authenticate(r.Context(), cred)
		if err != nil {
			return nil, err
		}
		return &caller{p: p, credential: cred}, nil
	}
	if ck, err := r.Cookie(sessionCookie); err == nil && ck.Value != "" {
		sess := s.sessions.get(ck.Value, s.now())
		if sess == nil {
			return nil, errors.Join(errors.New("the dashboard session ended: open a new link from `ladder dashboard`"), auth.ErrUnauthenticated)
		}
		p, err := s.authenticate(r.Context(), sess.credential)
		if err != nil {
			return nil, err
		}
		return &caller{p: p, session: sess}, nil
	}
	return nil, nil
}

func (s *server) authenticate(ctx context.Context, cred string) (auth.Principal, error) {
	if s.auth == nil {
		return auth.Principal{}, errors.Join(errNoAuthenticator, auth.ErrUnauthenticated)
	}
	return s.auth.Authenticate(ctx, cred)
}

// isSafe: methods that change nothing.
func isSafe(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// openPaths need no credential from anywhere: liveness, the login link
// itself and the static assets.
func openPath(path string) bool {
	return path == "/healthz" || path == "/login" || strings.HasPrefix(path, "/assets/")
}

// authenticated puts the caller in the request's context. Every unsafe
// request needs one (401 without); a session-borne one also needs the
// session's CSRF token, since a browser attaches the cookie by itself.
// Reads stay open to this machine; from elsewhere they need a viewer.
func (s *server) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.identify(r)
		safe := isSafe(r.Method)
		switch {
		case err != nil && safe && (openPath(r.URL.Path) || r.Header.Get("Authorization") == ""):
			// A session that ended (the agent restarted, the token was
			// revoked) leaves a read anonymous, not failed: the page
			// still shows, read only.
			c = nil
		case err != nil:
			s.fail(w, r, err)
			return
		}
		if !safe && c == nil {
			s.fail(w, r, errors.Join(errors.New("a change needs a credential: send Authorization: Bearer TOKEN"), auth.ErrUnauthenticated))
			return
		}
		if !safe && c.session != nil && !s.csrfOK(r, c.session) {
			writeError(w, http.StatusForbidden, "missing or wrong CSRF token", "reload the page and try again")
			return
		}
		if safe && !openPath(r.URL.Path) && !fromLoopback(r) {
			if c == nil {
				s.fail(w, r, errors.Join(errors.New("reading from another machine needs a credential"), auth.ErrUnauthenticated))
				return
			}
			if err := s.authorize(r.Context(), c, s.env, auth.ActionRead); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		if c != nil {
			ctx := context.WithValue(r.Context(), callerKey{}, c)
			cred := c.credential
			if c.session != nil {
				cred = c.session.credential
			}
			r = r.WithContext(auth.WithCredential(ctx, cred))
		}
		next.ServeHTTP(w, r)
	})
}

// csrfOK compares the request's CSRF token with the session's, from the
// header a fetch sends or the field a form posts. Reading the form here
// is what the form handlers would do anyway (bounded the same way).
func (s *server) csrfOK(r *http.Request, sess *session) bool {
	got := r.Header.Get(csrfHeader)
	if got == "" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		r.Body = http.MaxBytesReader(nil, r.Body, maxBody)
		if err := r.ParseForm(); err == nil {
			got = r.PostForm.Get(csrfField)
		}
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) == 1
}

func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// authorize decides whether the request's caller may do action on env,
// and audits a refusal of someone known.
func (s *server) authorize(ctx context.Context, c *caller, env string, action auth.Action) error {
	if c == nil {
		return errors.Join(errors.New("no credential"), auth.ErrUnauthenticated)
	}
	err := auth.Authorize(c.p, env, action)
	if err != nil && action != auth.ActionRead {
		s.audit(ctx, store.AuditEntry{Actor: c.p.Name, Action: string(action), Env: env, Outcome: "denied", Detail: err.Error()})
	}
	return err
}

// principalFor authorizes the request's caller for action on env and
// returns them.
func (s *server) principalFor(r *http.Request, env string, action auth.Action) (auth.Principal, error) {
	c, _ := callerOf(r.Context())
	if err := s.authorize(r.Context(), c, env, action); err != nil {
		return auth.Principal{}, err
	}
	return c.p, nil
}

func (s *server) audit(ctx context.Context, e store.AuditEntry) {
	if s.st == nil {
		return
	}
	if _, err := s.st.Audit(context.WithoutCancel(ctx), e); err != nil {
		s.log.Warn("audit", "action", e.Action, "err", err)
	}
}

// hostChecked answers 421 to a request whose Host is not one of this
// agent's names: a web page whose DNS name was rebound to 127.0.0.1
// reaches the agent with its own name in Host, and is turned away before
// anything reads or acts.
func (s *server) hostChecked(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(r.Host) {
			writeError(w, http.StatusMisdirectedRequest, "this agent does not answer to the host "+clip(r.Host, 100),
				"use http://127.0.0.1:PORT or http://localhost:PORT, or start the agent with the name in its allowed hosts")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *server) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	for _, h := range s.hosts {
		if strings.EqualFold(strings.TrimSuffix(h, "."), host) {
			return true
		}
	}
	return false
}

// loginAnswer is the body of POST /api/v1/login.
type loginAnswer struct {
	// URL opens a dashboard session as the caller, once, before Expires.
	URL     string    `json:"url"`
	Expires time.Time `json:"expires"`
}

// handleLoginLink makes a one-time login link for the caller: how
// `ladder dashboard` lets the browser act as the person at the terminal.
// Only a bearer token can ask: a session cannot mint more sessions.
func (s *server) handleLoginLink(w http.ResponseWriter, r *http.Request) {
	c, _ := callerOf(r.Context())
	if c == nil || c.credential == "" {
		s.fail(w, r, errors.Join(errors.New("a login link is made for a bearer token"), auth.ErrUnauthenticated))
		return
	}
	if err := s.authorize(r.Context(), c, s.env, auth.ActionRead); err != nil {
		s.fail(w, r, err)
		return
	}
	code, exp := s.sessions.newCode(c.credential, s.now())
	writeJSON(w, http.StatusOK, loginAnswer{URL: "/login?code=" + code, Expires: exp.UTC()})
}

// handleLogin spends a one-time code and opens a session: an HttpOnly,
// SameSite=Strict cookie, which no script reads and no other site's page
// sends.
func (s *server) handleLogin(w http.ResponseWriter, r *http.Request) {
	id, _, ok := s.sessions.redeem(r.URL.Query().Get("code"), s.now())
	if !ok {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte("This login link is not valid: it was used already or it expired.\nRun `ladder dashboard` for a new one.\n"))
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, MaxAge: int(sessionTTL / time.Second),
	})
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	to := "/"
	if s.ladder() != nil {
		to = "/ladder"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}
