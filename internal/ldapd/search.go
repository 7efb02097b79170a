package ldapd

import (
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
	ber "github.com/lor00x/goldap/message"
	"github.com/vjeantet/ldapserver"

	"github.com/hygie-sante/hygie/internal/directory"
)

// Search scopes (RFC 4511 §4.5.1.2).
const (
	scopeBase     = 0
	scopeOne      = 1
	scopeSubtree  = 2
	maxCandidates = 5000
)

// entry is one LDAP entry: its DN and attributes by lower-case name (the
// first spelling is kept in names for the answer).
type entry struct {
	dn    string
	names []string
	attrs map[string][]string
}

func newEntry(dn string) *entry { return &entry{dn: dn, attrs: map[string][]string{}} }

func (e *entry) add(name string, values ...string) {
	var vs []string
	for _, v := range values {
		if v != "" {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return
	}
	k := strings.ToLower(name)
	if _, ok := e.attrs[k]; !ok {
		e.names = append(e.names, name)
	}
	e.attrs[k] = append(e.attrs[k], vs...)
}

// handleSearch answers a search (RFC 4511 §4.5). The root DSE may be read
// anonymously; everything else needs a bound account.
func (s *Server) handleSearch(w ldapserver.ResponseWriter, m *ldapserver.Message) {
	r := m.GetSearchRequest()
	sess := sessionOf(m)
	baseObj := strings.TrimSpace(string(r.BaseObject()))
	scope := int(r.Scope())
	if baseObj == "" && scope == scopeBase {
		s.writeEntries(w, m, r, []*entry{s.rootDSE()}, 1, false)
		return
	}
	if _, u := sess.state(); u == nil {
		done(w, ldapserver.LDAPResultInsufficientAccessRights, "bind with your address and password first")
		return
	} else if cur, err := s.cfg.Accounts.ByID(s.ctx, u.ID); err != nil || cur.Disabled {
		// Disabled (or deleted) since the bind.
		sess.setUser(nil)
		done(w, ldapserver.LDAPResultInsufficientAccessRights, "account unavailable")
		return
	}
	base, err := goldap.ParseDN(baseObj)
	if err != nil {
		done(w, ldapserver.LDAPResultInvalidDNSyntax, "invalid base DN")
		return
	}
	limit := s.cfg.MaxResults
	if sl := int(r.SizeLimit()); sl > 0 && sl < limit {
		limit = sl
	}
	var entries []*entry
	truncated := false
	switch {
	case base.EqualFold(s.base):
		if scope == scopeBase || scope == scopeSubtree {
			entries = append(entries, s.baseEntry())
		}
		if scope != scopeBase {
			found, more, err := s.candidates(r.Filter(), "")
			truncated = more
			if err != nil {
				s.cfg.Log.Error("ldap search", "err", err)
				done(w, ldapserver.LDAPResultOther, "search failed")
				return
			}
			entries = append(entries, found...)
		}
	case s.base.AncestorOfFold(base) && len(base.RDNs) == len(s.base.RDNs)+1 && mailRDN(base) != "":
		found, _, err := s.candidates(nil, mailRDN(base))
		if err != nil {
			s.cfg.Log.Error("ldap search", "err", err)
			done(w, ldapserver.LDAPResultOther, "search failed")
			return
		}
		if len(found) == 0 {
			noSuchObject(w, s.base.String())
			return
		}
		if scope != scopeOne {
			entries = found
		}
	case s.base.AncestorOfFold(base):
		noSuchObject(w, s.base.String())
		return
	default:
		noSuchObject(w, "")
		return
	}
	s.writeEntries(w, m, r, entries, limit, truncated)
}

// writeEntries sends the entries that match the filter, at most limit of
// them (then sizeLimitExceeded), with the requested attributes. truncated
// (the candidates were capped) also ends with sizeLimitExceeded: there may
// be more.
func (s *Server) writeEntries(w ldapserver.ResponseWriter, m *ldapserver.Message, r ber.SearchRequest, entries []*entry,
	limit int, truncated bool) {
	sel := selection(r.Attributes())
	n := 0
	for _, e := range entries {
		if !matches(r.Filter(), e) {
			continue
		}
		if n == limit {
			done(w, ldapserver.LDAPResultSizeLimitExceeded, "")
			return
		}
		select {
		case <-m.Done: // abandoned, or the connection is closing
			return
		default:
		}
		res := ldapserver.NewSearchResultEntry(e.dn)
		for _, name := range e.names {
			if !sel.wants(name) {
				continue
			}
			var vs []ber.AttributeValue
			if !bool(r.TypesOnly()) {
				for _, v := range e.attrs[strings.ToLower(name)] {
					vs = append(vs, ber.AttributeValue(v))
				}
			}
			res.AddAttribute(ber.AttributeDescription(name), vs...)
		}
		w.Write(res)
		n++
	}
	if truncated {
		done(w, ldapserver.LDAPResultSizeLimitExceeded, "too many entries: refine the search")
		return
	}
	done(w, ldapserver.LDAPResultSuccess, "")
}

func done(w ldapserver.ResponseWriter, code int, msg string) {
	r := ldapserver.NewResponse(code)
	if msg != "" {
		r.SetDiagnosticMessage(msg)
	}
	w.Write(ber.SearchResultDone(r))
}

func noSuchObject(w ldapserver.ResponseWriter, matched string) {
	r := ldapserver.NewResponse(ldapserver.LDAPResultNoSuchObject)
	r.SeMatchedDN(matched)
	w.Write(ber.SearchResultDone(r))
}

// mailRDN returns the address of a DN whose first RDN is mail=<address>.
func mailRDN(dn *goldap.DN) string {
	if len(dn.RDNs) == 0 || len(dn.RDNs[0].Attributes) != 1 {
		return ""
	}
	a := dn.RDNs[0].Attributes[0]
	if strings.EqualFold(a.Type, "mail") {
		return a.Value
	}
	return ""
}

// candidates returns the directory entries that may match filter, or the
// entry of one address when mail is set; truncated reports that the
// directory had more (its answer was capped). Visibility is the directory
// package's: hidden addresses and disabled accounts never come back.
func (s *Server) candidates(filter ber.Filter, mail string) (out []*entry, truncated bool, err error) {
	var found []directory.Entry
	switch terms, ok := prefilter(filter); {
	case mail != "":
		found, err = directory.Search(s.ctx, s.cfg.St, directory.Query{Text: mail, Limit: directory.MaxLimit})
	case ok:
		seen := map[int64]bool{}
		for _, t := range terms {
			es, err := directory.Search(s.ctx, s.cfg.St, directory.Query{Text: t, Limit: directory.MaxLimit})
			if err != nil {
				return nil, false, err
			}
			truncated = truncated || len(es) == directory.MaxLimit
			for _, e := range es {
				if !seen[e.AccountID] {
					seen[e.AccountID] = true
					found = append(found, e)
				}
			}
		}
	default:
		found, err = directory.All(s.ctx, s.cfg.St, 0, maxCandidates)
		truncated = len(found) == maxCandidates
	}
	if err != nil {
		return nil, false, err
	}
	for i := range found {
		for _, e := range s.entries(&found[i]) {
			if mail == "" || strings.EqualFold(e.attrs["mail"][0], mail) {
				out = append(out, e)
			}
		}
	}
	return out, truncated, nil
}

// entries turns a directory entry into one inetOrgPerson entry per
// visible address (RFC 2798; postalAddress in the RFC 4517 §3.3.28
// syntax).
func (s *Server) entries(a *directory.Entry) []*entry {
	title := a.Profession
	if a.Specialite != "" {
		if title != "" {
			title += " – "
		}
		title += a.Specialite
	}
	org := a.RaisonSociale
	if org == "" && a.Kind == "ORG" {
		org = a.Label
	}
	if org == "" {
		org = a.Structure
	}
	var out []*entry
	for _, addr := range a.Mails() {
		rdn := &goldap.AttributeTypeAndValue{Type: "mail", Value: addr}
		e := newEntry(rdn.String() + "," + s.base.String())
		e.add("objectClass", "top", "person", "organizationalPerson", "inetOrgPerson")
		e.add("mail", addr)
		name := a.Name
		if name == "" {
			name = addr
		}
		e.add("cn", name)
		e.add("displayName", name)
		sn := a.LastName
		if sn == "" {
			sn = name
		}
		e.add("sn", sn)
		e.add("givenName", a.FirstName)
		e.add("o", org)
		e.add("title", title)
		e.add("telephoneNumber", a.Phone)
		e.add("postalAddress", postalAddress(a.PostalAddress))
		out = append(out, e)
	}
	return out
}

// postalAddress writes lines as RFC 4517 §3.3.28 Postal Address: lines
// separated by $, with \ and $ escaped.
func postalAddress(s string) string {
	if s == "" {
		return ""
	}
	esc := strings.NewReplacer(`\`, `\5C`, `$`, `\24`)
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, esc.Replace(l))
		}
	}
	return strings.Join(lines, "$")
}

// baseEntry is the organizationalUnit at the base DN.
func (s *Server) baseEntry() *entry {
	e := newEntry(s.base.String())
	e.add("objectClass", "top", "organizationalUnit")
	for _, a := range s.base.RDNs[0].Attributes {
		e.add(a.Type, a.Value)
	}
	return e
}

// rootDSE describes the server (RFC 4512 §5.1).
func (s *Server) rootDSE() *entry {
	e := newEntry("")
	e.add("objectClass", "top")
	e.add("namingContexts", s.base.String())
	e.add("supportedLDAPVersion", "3")
	e.add("supportedExtension", string(ldapserver.NoticeOfStartTLS))
	e.add("vendorName", "Hygie")
	return e
}

// attrSelection is the attributes a search asked for (RFC 4511 §4.5.1.8).
type attrSelection struct {
	all   bool
	names map[string]bool
}

func selection(attrs ber.AttributeSelection) attrSelection {
	sel := attrSelection{names: map[string]bool{}}
	if len(attrs) == 0 {
		sel.all = true
	}
	for _, a := range attrs {
		switch n := strings.ToLower(string(a)); n {
		case "*":
			sel.all = true
		case "1.1":
		default:
			sel.names[canonical(n)] = true
		}
	}
	return sel
}

func (sel attrSelection) wants(name string) bool {
	return sel.all || sel.names[strings.ToLower(name)]
}
