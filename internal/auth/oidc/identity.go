package oidc

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// Identity is who the provider says logged in.
type Identity struct {
	Mode string
	// Subject is what the login mode is associated by: SubjectNameID for
	// CPS, sub (or e-mail) for PASS.
	Subject string
	// Sub is the OpenID Connect subject.
	Sub string
	// NationalID is Pro Santé Connect's SubjectNameID (RPPS/ADELI).
	NationalID string
	FirstName  string
	LastName   string
	Email      string
	// Profession is the label of the first exercise's profession code
	// (SubjectRefPro), e.g. « Médecin ».
	Profession string
	// FINESS lists the activities' numeroFinessSite then
	// numeroFinessetablissementJuridique; SIRET their numeroSiretSite.
	FINESS        []string
	SIRET         []string
	RaisonSociale string
	// Claims is the whole claims set (ID token completed by userinfo).
	Claims Claims
}

// subjectRefPro is the nesting of Pro Santé Connect's SubjectRefPro claim
// (from public client code, not an official schema; SPEC §5).
type subjectRefPro struct {
	Exercices []struct {
		CodeProfession  string `json:"codeProfession"`
		NomDexercice    string `json:"nomDexercice"`
		PrenomDexercice string `json:"prenomDexercice"`
		Activities      []struct {
			NumeroSiretSite                    string `json:"numeroSiretSite"`
			NumeroFinessSite                   string `json:"numeroFinessSite"`
			NumeroFinessetablissementJuridique string `json:"numeroFinessetablissementJuridique"`
			RaisonSocialeSite                  string `json:"raisonSocialeSite"`
		} `json:"activities"`
	} `json:"exercices"`
}

func (p *Provider) identity(c Claims) (*Identity, error) {
	id := &Identity{Mode: p.cfg.Mode, Sub: c.String("sub"), Subject: p.subjectOf(c, false), Claims: c,
		NationalID: c.String("SubjectNameID"), Email: strings.ToLower(c.String("email")),
		FirstName: nameCase(c.String("given_name")), LastName: nameCase(c.String("family_name"))}
	if id.Subject == "" {
		return nil, fmt.Errorf("%w: no %s claim", ErrSubject, p.subjectClaimName())
	}
	if raw, ok := c["SubjectRefPro"]; ok {
		var ref subjectRefPro
		if b, err := json.Marshal(raw); err == nil && json.Unmarshal(b, &ref) == nil {
			for i, e := range ref.Exercices {
				if i == 0 {
					id.Profession = ProfessionLabel(e.CodeProfession)
					if id.FirstName == "" {
						id.FirstName = nameCase(e.PrenomDexercice)
					}
					if id.LastName == "" {
						id.LastName = nameCase(e.NomDexercice)
					}
				}
				for _, a := range e.Activities {
					id.FINESS = appendNonEmpty(id.FINESS, a.NumeroFinessSite, a.NumeroFinessetablissementJuridique)
					id.SIRET = appendNonEmpty(id.SIRET, a.NumeroSiretSite)
					if id.RaisonSociale == "" {
						id.RaisonSociale = a.RaisonSocialeSite
					}
				}
			}
		}
	}
	if id.RaisonSociale == "" {
		id.RaisonSociale = c.String("SubjectOrganization")
	}
	return id, nil
}

func appendNonEmpty(list []string, vs ...string) []string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" && !contains(list, v) {
			list = append(list, v)
		}
	}
	return list
}

// nameCase turns « JEAN-PIERRE » into « Jean-Pierre » (Pro Santé Connect
// sends names in capitals).
func nameCase(s string) string {
	s = strings.TrimSpace(s)
	var b strings.Builder
	start := true
	for _, r := range s {
		if start {
			b.WriteRune(unicode.ToUpper(r))
		} else {
			b.WriteRune(unicode.ToLower(r))
		}
		start = r == ' ' || r == '-' || r == '\''
	}
	return b.String()
}

// ProfessionLabel names a profession of the RPPS nomenclature
// (codeProfession, TRE_G15-ProfessionSante); an unknown code is returned
// as it is.
func ProfessionLabel(code string) string {
	if l, ok := professions[code]; ok {
		return l
	}
	return code
}

var professions = map[string]string{
	"10": "Médecin", "21": "Pharmacien", "26": "Audioprothésiste", "28": "Opticien-lunetier",
	"31": "Assistant dentaire", "32": "Physicien médical", "40": "Chirurgien-dentiste", "50": "Sage-femme",
	"60": "Infirmier", "69": "Infirmier psychiatrique", "70": "Masseur-kinésithérapeute", "80": "Pédicure-podologue",
	"81": "Orthoprothésiste", "82": "Podo-orthésiste", "83": "Orthopédiste-orthésiste", "84": "Oculariste",
	"85": "Épithésiste", "86": "Technicien de laboratoire médical", "91": "Orthophoniste", "92": "Orthoptiste",
	"93": "Psychologue", "94": "Ergothérapeute", "95": "Diététicien", "96": "Psychomotricien",
	"98": "Manipulateur ERM",
}
