package listfilter

// Notification is what Rewriter.Notify sees of a request or notification
// on a stream: its method and the target it names, if any.
type Notification struct {
	Method string
	// URI is params.uri (notifications/resources/updated).
	URI string
	// TaskID is params.taskId (notifications/tasks/status).
	TaskID string
	// Ambiguous reports a message whose method or target a client could
	// read two ways (a duplicate or case-variant key); it should be dropped.
	Ambiguous bool
}

var (
	notifyTop    = members("jsonrpc", "id", "method", "params")
	notifyParams = members("uri", "taskId")
)

// keep asks Notify about one request or notification.
func (rw *Rewriter) keep(data []byte) bool {
	if rw.Notify == nil {
		return true
	}
	return rw.Notify(readNotification(data))
}

// readNotification reads the method and target of a message the walker
// has already found well-formed.
func readNotification(data []byte) Notification {
	var n Notification
	w, err := newWalker(data)
	if err != nil || w.open('{', "message") != nil {
		return Notification{Ambiguous: true}
	}
	var seen uint32
	for w.more() {
		k, err := w.key(&seen, notifyTop, "")
		if err != nil {
			return Notification{Ambiguous: true}
		}
		switch string(k) {
		case "method":
			n.Method, err = w.optString("", "method")
		case "params":
			err = readParams(w, &n)
		default:
			err = w.skip()
		}
		if err != nil {
			return Notification{Ambiguous: true}
		}
	}
	return n
}

func readParams(w *walker, n *Notification) error {
	if w.data[w.valueStart()] != '{' {
		return w.skip()
	}
	if err := w.open('{', "params"); err != nil {
		return err
	}
	var seen uint32
	for w.more() {
		k, err := w.key(&seen, notifyParams, "params.")
		if err != nil {
			return err
		}
		switch string(k) {
		case "uri":
			n.URI, err = w.optString("params.", "uri")
		case "taskId":
			n.TaskID, err = w.optString("params.", "taskId")
		default:
			err = w.skip()
		}
		if err != nil {
			return err
		}
	}
	return w.close()
}
