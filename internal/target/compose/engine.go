package compose

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Engine is the part of the Docker Engine API the target uses;
// *client.Client implements it.
type Engine interface {
	Ping(ctx context.Context) (types.Ping, error)
	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, containerName string) (container.CreateResponse, error)
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ContainerInspect(ctx context.Context, containerID string) (container.InspectResponse, error)
	ContainerStart(ctx context.Context, containerID string, options container.StartOptions) error
	ContainerStop(ctx context.Context, containerID string, options container.StopOptions) error
	ContainerRemove(ctx context.Context, containerID string, options container.RemoveOptions) error
	ContainerLogs(ctx context.Context, containerID string, options container.LogsOptions) (io.ReadCloser, error)
	CopyToContainer(ctx context.Context, containerID, dstPath string, content io.Reader, options container.CopyToContainerOptions) error
	ContainerRestart(ctx context.Context, containerID string, options container.StopOptions) error
	ContainerExecCreate(ctx context.Context, containerID string, options container.ExecOptions) (container.ExecCreateResponse, error)
	ContainerExecStart(ctx context.Context, execID string, config container.ExecStartOptions) error
	ContainerExecInspect(ctx context.Context, execID string) (container.ExecInspect, error)
	NetworkCreate(ctx context.Context, name string, options network.CreateOptions) (network.CreateResponse, error)
	NetworkList(ctx context.Context, options network.ListOptions) ([]network.Summary, error)
	NetworkRemove(ctx context.Context, networkID string) error
	NetworkConnect(ctx context.Context, networkID, containerID string, config *network.EndpointSettings) error
	NetworkDisconnect(ctx context.Context, networkID, containerID string, force bool) error
	VolumeRemove(ctx context.Context, volumeID string, force bool) error
	VolumeCreate(ctx context.Context, options volume.CreateOptions) (volume.Volume, error)
	Events(ctx context.Context, options events.ListOptions) (<-chan events.Message, <-chan error)
	ImageInspect(ctx context.Context, imageID string, inspectOpts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImageTag(ctx context.Context, source, target string) error
	ImageLoad(ctx context.Context, input io.Reader, loadOpts ...client.ImageLoadOption) (image.LoadResponse, error)
	ImagePull(ctx context.Context, ref string, options image.PullOptions) (io.ReadCloser, error)
}

var _ Engine = (*client.Client)(nil)

// UnreachableError says the Docker engine did not answer, and what to do.
type UnreachableError struct {
	Host string
	Err  error
	// Site is set when the host came from a site's target in ladder.yaml
	// rather than from DOCKER_HOST.
	Site bool
}

func (e *UnreachableError) Error() string {
	if e.Site {
		return fmt.Sprintf("Docker engine not reachable at %s (the site's target.docker.host in ladder.yaml): %v; start that engine, or check the address and its TLS files", e.Host, e.Err)
	}
	return fmt.Sprintf("Docker engine not reachable at %s (DOCKER_HOST): %v; start the engine (systemctl start docker), set DOCKER_HOST to where it listens, or use `target: process` in ladder.yaml", e.Host, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Connect returns a client for the engine DOCKER_HOST (or the default
// socket) names, after checking it answers. The API version is negotiated
// down to what the engine speaks.
func Connect(ctx context.Context) (*client.Client, error) {
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = client.DefaultDockerHost
	}
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, &UnreachableError{Host: host, Err: err}
	}
	if _, err := c.Ping(ctx); err != nil {
		c.Close()
		return nil, &UnreachableError{Host: host, Err: err}
	}
	return c, nil
}

// isNotFound reports whether err is the engine saying "no such object".
func isNotFound(err error) bool {
	return err != nil && (client.IsErrNotFound(err) || errors.Is(err, errNotFound))
}

var errNotFound = errors.New("not found")
