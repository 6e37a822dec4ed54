package rpcmessage

import (
	"encoding/json"
)

// The params members that name what tasks, completions and subscriptions
// are about. Their reading must be as unambiguous as a tool's name:
// duplicates and case variants of the members below are refused.

// extension reads params.task, params.ref or params.notifications.
func (p *parser) extension(m *Message, member string) error {
	switch member {
	case "task":
		raw, err := p.rawValue()
		if err != nil {
			return err
		}
		m.HasTask = string(raw) != "null"
		return nil
	case "ref":
		return p.ref(m)
	}
	return p.notifications(m)
}

func (p *parser) rawValue() (json.RawMessage, error) {
	var raw json.RawMessage
	if err := p.dec.Decode(&raw); err != nil {
		return nil, syntax(err)
	}
	return raw, nil
}

// object reads the '{' of an optional object member; false for null.
func (p *parser) object(name string) (bool, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return false, syntax(err)
	}
	switch tok {
	case nil:
		return false, nil
	case json.Delim('{'):
		return true, nil
	}
	return false, refuse(CodeInvalidRequest, ErrShape, "%s is not an object", name)
}

// ref reads params.ref of completion/complete. mcp-go decodes it into a
// map, matching keys exactly; refusing case variants is stricter.
func (p *parser) ref(m *Message) error {
	ok, err := p.object("params.ref")
	if err != nil || !ok {
		return err
	}
	r := &Ref{}
	var seen uint32
	for p.dec.More() {
		k, err := p.key(&seen, refMembers, "params.ref.")
		if err != nil {
			return err
		}
		switch k {
		case "type":
			r.Type, err = p.optString("params.ref.type")
		case "name":
			r.Name, err = p.optString("params.ref.name")
		case "uri":
			r.URI, err = p.optString("params.ref.uri")
		default:
			err = p.skip()
		}
		if err != nil {
			return err
		}
	}
	if _, err := p.dec.Token(); err != nil { // '}'
		return syntax(err)
	}
	m.Ref = r
	return nil
}

// notifications reads params.notifications of subscriptions/listen.
func (p *parser) notifications(m *Message) error {
	ok, err := p.object("params.notifications")
	if err != nil || !ok {
		return err
	}
	var seen uint32
	for p.dec.More() {
		k, err := p.key(&seen, notifyMembers, "params.notifications.")
		if err != nil {
			return err
		}
		if k != "resourceSubscriptions" {
			if err := p.skip(); err != nil {
				return err
			}
			continue
		}
		raw, err := p.rawValue()
		if err != nil {
			return err
		}
		var uris []string
		if err := json.Unmarshal(raw, &uris); err != nil {
			return refuse(CodeInvalidRequest, ErrShape, "params.notifications.resourceSubscriptions is not an array of strings")
		}
		m.Subscriptions = uris
	}
	if _, err := p.dec.Token(); err != nil { // '}'
		return syntax(err)
	}
	return nil
}
