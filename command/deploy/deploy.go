// Package deploy holds the files an operator installs beside
// shian-command (systemd units, the backup timer, the Prometheus and
// Grafana files, the HAProxy configuration); see README.md in this folder.
// The Go package only embeds haproxy.cfg, so that shian-sim cluster-demo
// runs the same balancer configuration a city installs.
package deploy

import _ "embed"

// HAProxy is haproxy.cfg: HAProxy in front of several instances.
//
//go:embed haproxy.cfg
var HAProxy string
