package cli

import "context"

// authorize decides whether whoever runs this command may do action
// ("deploy", "promote", "approve", "rollback", "trust", "policy") on env
// ("" for what concerns no one environment). It is the one place such a
// decision is made; for now it allows everything.
func (a *app) authorize(ctx context.Context, env, action string) error {
	return nil
}
