package tokenverifier

import "encoding/json"

// userClaim reads the configured user claim from the JSON object doc (a
// JWT's payload, an introspection or userinfo answer). With no claim
// configured it returns "". A claim that is missing, null, empty or not a
// string is the token's fault: the backend would otherwise have no user
// to compare with, or compare with something it cannot mean.
func userClaim(name string, doc []byte) (string, error) {
	if name == "" {
		return "", nil
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(doc, &claims); err != nil {
		return "", invalid("malformed claims")
	}
	raw, ok := claims[name]
	if !ok {
		return "", invalid("token has no %s claim", name)
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil || v == "" {
		return "", invalid("claim %s is not a non-empty string", name)
	}
	return v, nil
}
