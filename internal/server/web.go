package server

import (
	"net/http"

	"github.com/hygie-sante/hygie/internal/metrics"
	"github.com/hygie-sante/hygie/internal/web"
)

// webHandler serves the web listener: the web application, and /healthz,
// which checks the database.
func (n *Node) webHandler(secure bool) (http.Handler, error) {
	app, err := web.New(web.Config{St: n.St, Accounts: n.Accounts, Audit: n.Audit, Pipeline: n.Pipeline, Router: n.Router,
		Log: n.Log, PlatformName: n.Cfg.PlatformName, SupportURL: n.Cfg.SupportURL, PublicURL: n.Cfg.PublicURL,
		SecureCookies: secure, MaxMessageSize: n.Cfg.SMTP.MaxMessageSize,
		LoginModes: n.webLoginModes(), JoinPolicy: n.joinPolicy(), Trust: n.Trust,
		FeedToken: n.Cfg.FeedToken})
	if err != nil {
		return nil, err
	}
	app.Handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := n.St.DB.PingContext(r.Context()); err != nil {
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	}))
	app.Handle("GET /readyz", http.HandlerFunc(n.readyz))
	app.Handle("GET /metrics", metrics.Handler(n.St, n.Log))
	proxies, err := n.Cfg.ProxyPrefixes()
	if err != nil {
		return nil, err
	}
	return web.RealIP(proxies, metrics.HTTP(app.Handler())), nil
}
