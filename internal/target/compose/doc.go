// Package compose is the target that runs a site as a Compose project on a
// Docker engine, through the Docker Engine Go SDK.
//
// A site is a genuine Compose project: its containers and networks carry
// the standard com.docker.compose.* labels, so `docker ps` and
// `docker-compose -p PROJECT ps/logs` see it as users expect, and every
// container also carries the snapshot, environment and site it belongs to
// (dev.ladder.* labels). Images come from ladder's artifact store and are
// loaded into the engine by digest; nothing is pulled or rebuilt.
//
// A release starts the changed services' new containers beside the old
// ones with only a slot-specific network alias, waits until they are
// healthy, then gives them the service's alias (so other services reach
// them by name) and removes the old containers. A service that publishes a
// fixed host port cannot run twice at once, so for it the old container is
// stopped first and started again if the new one fails.
package compose
