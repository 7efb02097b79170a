package smtpd

import (
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// loginServer implements the LOGIN SASL mechanism
// (draft-murchison-sasl-login): "Username:" then "Password:" challenges.
type loginServer struct {
	auth     func(username, password string) error
	step     int
	username string
}

func newLoginServer(auth func(username, password string) error) sasl.Server {
	return &loginServer{auth: auth}
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0:
		l.step++
		if response != nil {
			// Initial response carries the username.
			l.username = string(response)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.username = string(response)
		l.step++
		return []byte("Password:"), false, nil
	case 2:
		l.step++
		return nil, true, l.auth(l.username, string(response))
	}
	return nil, true, &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 5, 2}, Message: "unexpected response"}
}
