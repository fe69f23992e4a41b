// Package conf is gatehouse's configuration: one Config struct with
// defaults, built by Load from, in increasing order of precedence, the
// built-in defaults (Defaults), the YAML file named by --config, GATEHOUSE_*
// environment variables and the command-line flags (--listen, --data-dir);
// every setting is declared once in a single key table that drives the YAML
// walk, the environment, the flags and the documentation (Keys). A setting's
// environment variable is its dotted YAML key upper-cased with both "." and
// "-" turned into "_" and prefixed with "GATEHOUSE_", so
// auth.throttle.user-failures is GATEHOUSE_AUTH_THROTTLE_USER_FAILURES;
// lists are comma-separated there and YAML sequences in the file, durations
// are Go duration strings such as "5s". Unknown YAML keys, unknown flags and
// unparsable values from any source are errors, and Load and Validate report
// every problem at once (errors.Join), each naming its key (and the
// variable, flag or file it came from). An unknown GATEHOUSE_* variable is
// not an error, since Kubernetes injects GATEHOUSE_PORT, GATEHOUSE_SERVICE_HOST
// and the like into every pod of a namespace with a Service named gatehouse:
// Load ignores it and UnknownEnv names it, for the caller to log as a
// warning (by name only, never its value). The package keeps no global
// state and never reads the process environment, the real command line or
// any file other than the one passed with --config: the caller hands in the
// arguments and the environment (like os.Environ()), and acting on the
// configuration (starting etcd, listening, logging) is left to other packages.
package conf
