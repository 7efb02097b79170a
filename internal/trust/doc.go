// Package trust owns the MSSanté trust space: the operators' whitelist, certificate checks and TLS configurations.
//
// The whitelist (liste blanche) names every mail domain of the MSSanté space together with the
// subject DN of the certificate its operator presents (see ParseWhitelist and Source). Operator
// certificates are compared with those DNs by MatchDN. The TLS helpers build TLS 1.2+
// configurations for the operators' SMTP exchanges and for client access.
package trust
