package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hygie-sante/hygie/internal/store"
)

// Kinds of feed changes.
const (
	ChangeAdded   = "added"
	ChangeChanged = "changed"
	ChangeRemoved = "removed"
)

// FeedEntry is one MSSanté address as published to the national directory
// (annuaire santé, SPEC §5): the names and types of the national FHIR
// directory, so that an adapter to the national API is a thin layer.
//
// Published: the MSSanté address of a PER, INT or ORG account whose owner
// left « visible dans l'annuaire santé » checked, not disabled, in a
// structure not disabled. An address on the liste rouge (visibility
// unchecked) is not published: its entry is removed from the feed (the
// removal says listeRouge) and no earlier change still names it.
type FeedEntry struct {
	// ID is the platform's stable identifier of the mailbox (the account id).
	ID string `json:"id"`
	// Type is the national mailbox type: PER (a person: PER and INT
	// accounts) or ORG (an organisational box).
	Type string `json:"type"`
	// AccountType is the platform's account type (PER, INT, ORG).
	AccountType string `json:"accountType"`
	Address     string `json:"address"`
	// RPPS identifies a person (empty for an INT awaiting it), FINESS an
	// organisation (the box's, else its structure's).
	RPPS          string `json:"rpps,omitempty"`
	FINESS        string `json:"finess,omitempty"`
	LastName      string `json:"lastName,omitempty"`
	FirstName     string `json:"firstName,omitempty"`
	Name          string `json:"name"`
	Profession    string `json:"profession,omitempty"`
	Specialite    string `json:"specialite,omitempty"`
	RaisonSociale string `json:"raisonSociale,omitempty"`
	// ListeRouge is always false for a published entry (liste rouge means
	// not published); kept so that consumers find the national field.
	ListeRouge bool `json:"listeRouge"`
	// Dematerialisation: « accepte la dématérialisation totale des
	// échanges » (SPEC §2.7).
	Dematerialisation bool `json:"dematerialisation"`
}

// published returns s's feed entry, or nil when s is not published.
func (s *source) published() *FeedEntry {
	if s.disabled || s.mss == "" || !s.visMSS {
		return nil
	}
	fe := &FeedEntry{ID: strconv.FormatInt(s.AccountID, 10), AccountType: s.Kind, Address: s.mss,
		Name: s.Name(), Profession: s.Profession, Specialite: s.Specialite, RaisonSociale: s.RaisonSociale,
		Dematerialisation: s.Dematerialisation}
	switch s.Kind {
	case "PER", "INT":
		fe.Type, fe.RPPS, fe.LastName, fe.FirstName = "PER", s.rpps, s.LastName, s.FirstName
	case "ORG":
		fe.Type, fe.FINESS = "ORG", s.finess
	default:
		return nil
	}
	return fe
}

// Name is the source's display name.
func (s *source) Name() string {
	if s.Kind == "ORG" {
		return s.Label
	}
	return s.FirstName + " " + s.LastName
}

// Change is one row of the feed's change log.
type Change struct {
	// Seq is the cursor: pass the last Seq seen as since.
	Seq       int64
	Kind      string
	AccountID int64
	At        time.Time
	// Entry is the published state (added, changed); nil for removed.
	Entry *FeedEntry
	// Type is the removed entry's type (PER or ORG), for removals.
	Type string
	// ListeRouge is set on a removal caused by the owner unchecking « visible
	// dans l'annuaire santé ».
	ListeRouge bool
}

// MaxChanges bounds one page of the change log.
const MaxChanges = 1000

// Changes returns up to limit changes after cursor since (0: from the
// start, that is the whole published directory plus removals), in order.
// The log is compacted: an account changed several times after since
// appears once, with its latest state. more reports that another page
// follows.
func Changes(ctx context.Context, st *store.Store, since int64, limit int) (changes []Change, more bool, err error) {
	if limit <= 0 || limit > MaxChanges {
		limit = MaxChanges
	}
	if err := Sync(ctx, st); err != nil {
		return nil, false, err
	}
	rows, err := st.Query(ctx, `SELECT seq, kind, account_id, at, entry FROM directory_changes WHERE seq > ? ORDER BY seq LIMIT ?`, since, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("directory changes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c Change
		var at int64
		var entry string
		if err := rows.Scan(&c.Seq, &c.Kind, &c.AccountID, &at, &entry); err != nil {
			return nil, false, fmt.Errorf("directory changes: %w", err)
		}
		c.At = time.Unix(at, 0).UTC()
		if c.Kind == ChangeRemoved {
			var r removal
			json.Unmarshal([]byte(entry), &r)
			c.ListeRouge, c.Type = r.ListeRouge, r.Type
		} else if entry != "" {
			c.Entry = &FeedEntry{}
			if err := json.Unmarshal([]byte(entry), c.Entry); err != nil {
				return nil, false, fmt.Errorf("directory changes: entry %d: %w", c.Seq, err)
			}
		}
		changes = append(changes, c)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("directory changes: %w", err)
	}
	if len(changes) > limit {
		return changes[:limit], true, nil
	}
	return changes, false, nil
}

// FHIR names used by the national directory (annuaire santé).
const (
	fhirRPPSSystem   = "urn:oid:1.2.250.1.71.4.2.1"
	fhirFINESSSystem = "urn:oid:1.2.250.1.71.4.2.2"
	// FHIREmailTypeURL is the extension giving a telecom's e-mail type.
	FHIREmailTypeURL    = "https://annuaire.sante.fr/fhir/StructureDefinition/ContactPoint-EmailType"
	fhirEmailTypeSystem = "https://mos.esante.gouv.fr/NOS/TRE_R256-TypeMessagerie/FHIR/TRE-R256-TypeMessagerie"
	// FHIRDematURL is Hygie's extension carrying the dematerialisation flag.
	FHIRDematURL = "https://hygie-sante.org/fhir/StructureDefinition/dematerialisation"
	// FHIRListeRougeURL marks a removal caused by the liste rouge.
	FHIRListeRougeURL = "https://hygie-sante.org/fhir/StructureDefinition/liste-rouge"
)

// FHIRBundle renders changes as a FHIR history Bundle: added → POST,
// changed → PUT, removed → DELETE of Practitioner/<id> or
// Organization/<id>; each mailbox is a telecom {system: email, value,
// extension emailType MSSANTE}.
func FHIRBundle(changes []Change, next int64) map[string]any {
	entries := make([]any, 0, len(changes))
	for _, c := range changes {
		id := strconv.FormatInt(c.AccountID, 10)
		switch c.Kind {
		case ChangeRemoved:
			typ := "Practitioner"
			if c.Type == "ORG" {
				typ = "Organization"
			}
			e := map[string]any{"request": map[string]any{"method": "DELETE", "url": typ + "/" + id}}
			if c.ListeRouge {
				e["extension"] = []any{map[string]any{"url": FHIRListeRougeURL, "valueBoolean": true}}
			}
			entries = append(entries, e)
		default:
			res, typ := fhirResource(c.Entry)
			method := "POST"
			if c.Kind == ChangeChanged {
				method = "PUT"
			}
			entries = append(entries, map[string]any{
				"fullUrl":  typ + "/" + id,
				"resource": res,
				"request":  map[string]any{"method": method, "url": typ + "/" + id},
			})
		}
	}
	return map[string]any{
		"resourceType": "Bundle",
		"type":         "history",
		"total":        len(entries),
		"link":         []any{map[string]any{"relation": "next", "url": "?format=fhir&since=" + strconv.FormatInt(next, 10)}},
		"entry":        entries,
	}
}

func fhirResource(e *FeedEntry) (map[string]any, string) {
	telecom := []any{map[string]any{
		"system": "email",
		"value":  e.Address,
		"extension": []any{
			map[string]any{"url": FHIREmailTypeURL, "valueCoding": map[string]any{"system": fhirEmailTypeSystem, "code": "MSSANTE"}},
			map[string]any{"url": FHIRDematURL, "valueBoolean": e.Dematerialisation},
		},
	}}
	if e.Type == "ORG" {
		r := map[string]any{"resourceType": "Organization", "id": e.ID, "name": e.Name, "telecom": telecom}
		if e.FINESS != "" {
			r["identifier"] = []any{map[string]any{"system": fhirFINESSSystem, "value": e.FINESS}}
		}
		return r, "Organization"
	}
	r := map[string]any{"resourceType": "Practitioner", "id": e.ID, "telecom": telecom,
		"name": []any{map[string]any{"family": e.LastName, "given": []string{e.FirstName}}}}
	if e.RPPS != "" {
		r["identifier"] = []any{map[string]any{"system": fhirRPPSSystem, "value": e.RPPS}}
	}
	return r, "Practitioner"
}
