package api

import (
	"net/http"

	"github.com/shianfood/shian/protocols/wire"
)

// maxBulkAck bounds one bulk acknowledgement (an incident's alerts, or a
// page of the triage queue).
const maxBulkAck = 500

type bulkAckReq struct {
	Seqs []uint64 `json:"seqs"`
}

type bulkAckResp struct {
	Acked   []any    `json:"acked"`
	Missing []uint64 `json:"missing"`
}

// ackAlarms acknowledges many alarms at once (POST /api/v1/alarms/ack,
// {"seqs": [12, 13]}): the triage queue acknowledges an incident's alerts
// together (decision 0015). Every alarm acknowledged is published as an
// alert delta, like a single acknowledgement; unknown seqs are listed in
// "missing", not an error (another commander may have pruned them).
func (s *Server) ackAlarms(w http.ResponseWriter, r *http.Request) error {
	var req bulkAckReq
	if err := decodeJSON(r, 64<<10, &req); err != nil {
		return err
	}
	switch {
	case len(req.Seqs) == 0:
		return Invalid("seqs is required: the alarm numbers to acknowledge, e.g. {\"seqs\": [12, 13]}")
	case len(req.Seqs) > maxBulkAck:
		return Invalid("%d alarms in one request; acknowledge at most %d at a time", len(req.Seqs), maxBulkAck)
	}
	acked, missing, err := s.Store.AckAlarms(req.Seqs, userOf(r).Name)
	if err != nil {
		return err
	}
	resp := bulkAckResp{Acked: []any{}, Missing: missing}
	if resp.Missing == nil {
		resp.Missing = []uint64{}
	}
	for _, a := range acked {
		s.Hub.Publish(wire.KindAlert, a)
		resp.Acked = append(resp.Acked, a)
	}
	WriteJSON(w, http.StatusOK, resp)
	return nil
}
