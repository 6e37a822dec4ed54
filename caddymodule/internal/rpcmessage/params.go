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

// ref reads params.ref of completion/complete. mcp-go decodes it into a
// map, matching keys exactly; refusing case variants is stricter.
func (p *parser) ref(m *Message) error {
	if ok, err := p.open("params.ref"); err != nil || !ok {
		return err
	}
	r := &Ref{}
	err := p.object(refMembers, "params.ref.", func(k string) error {
		var err error
		switch k {
		case "type":
			r.Type, err = p.optString("params.ref.type")
		case "name":
			r.Name, err = p.optString("params.ref.name")
		case "uri":
			r.URI, err = p.optString("params.ref.uri")
		}
		return err
	})
	if err != nil {
		return err
	}
	m.Ref = r
	return nil
}

// notifications reads params.notifications of subscriptions/listen.
func (p *parser) notifications(m *Message) error {
	if ok, err := p.open("params.notifications"); err != nil || !ok {
		return err
	}
	return p.object(notifyMembers, "params.notifications.", func(string) error {
		raw, err := p.rawValue()
		if err != nil {
			return err
		}
		var uris []string
		if err := json.Unmarshal(raw, &uris); err != nil {
			return refuse(CodeInvalidRequest, ErrShape, "params.notifications.resourceSubscriptions is not an array of strings")
		}
		m.Subscriptions = uris
		return nil
	})
}
