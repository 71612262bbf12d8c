package render

import (
	"fmt"
	"strconv"
	"strings"
)

// maxLogSize bounds logging.options max-size, so a typo ("10g" for "10m")
// cannot let one service's logs fill the disk.
const maxLogSize = 1 << 40

// logLimits reads the options of Compose's logging section that ladder
// honours on every target: max-size ("10m", "512k", "1g" or bytes) and
// max-file (a count). Other options belong to the driver and are ignored.
func logLimits(opts map[string]string) (*LogLimits, error) {
	var l LogLimits
	if v, ok := opts["max-size"]; ok {
		n, err := parseLogSize(v)
		if err != nil {
			return nil, fmt.Errorf("max-size: %w", err)
		}
		l.MaxSize = n
	}
	if v, ok := opts["max-file"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 1000 {
			return nil, fmt.Errorf("max-file: %q is not a count from 1 to 1000", v)
		}
		l.MaxFiles = n
	}
	if l == (LogLimits{}) {
		return nil, nil
	}
	return &l, nil
}

// parseLogSize reads a size as Docker's max-size does: a number with an
// optional k, m or g (powers of 1024), case-insensitive.
func parseLogSize(v string) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	s = strings.TrimSuffix(s, "b")
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "m"):
		mult, s = 1<<20, s[:len(s)-1]
	case strings.HasSuffix(s, "g"):
		mult, s = 1<<30, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > maxLogSize/mult {
		return 0, fmt.Errorf("%q is not a size such as 10m, 512k or 1g (at most 1 TiB)", v)
	}
	return n * mult, nil
}
