// Command winrm-go drives etsn-mockd's WinRS cmd shell with
// github.com/masterzen/winrm (Debian's golang-github-masterzen-winrm-dev), a
// second WinRS client not written here: NTLM over HTTPS, its Run,
// RunWithString (stdin through Send), Powershell (-EncodedCommand) and its
// WINRS_CODEPAGE 65001 shells.
//
//	winrm-go HOST PORT USER   (password in the file ETSN_PASSWORD_FILE)
//
// Prints one line per check; exit status 1 when any failed.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/masterzen/winrm"
)

var failed int

func check(name string, got, want interface{}) {
	if fmt.Sprintf("%q", got) == fmt.Sprintf("%q", want) {
		fmt.Println("ok   " + name)
		return
	}
	failed++
	fmt.Printf("FAIL %s: got %q, want %q\n", name, got, want)
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: winrm-go HOST PORT USER")
		os.Exit(2)
	}
	port, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad port")
		os.Exit(2)
	}
	f, err := os.Open(os.Getenv("ETSN_PASSWORD_FILE"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "ETSN_PASSWORD_FILE:", err)
		os.Exit(2)
	}
	password, _ := bufio.NewReader(f).ReadString('\n')
	f.Close()
	password = strings.TrimRight(password, "\r\n")

	// The mock's certificate is made by the test: not verified.
	endpoint := winrm.NewEndpoint(os.Args[1], port, true, true, nil, nil, nil, 0)
	params := *winrm.DefaultParameters
	params.TransportDecorator = func() winrm.Transporter { return &winrm.ClientNTLM{} }
	client, err := winrm.NewClientWithParameters(endpoint, os.Args[3], password, &params)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}

	out, errOut, rc, err := client.RunWithString("echo hi", "")
	check("RunWithString echo hi: error", err, error(nil))
	check("RunWithString echo hi: stdout", out, "hi\r\n")
	check("RunWithString echo hi: exit code", rc, 0)

	var so, se bytes.Buffer
	rc, err = client.Run("echo out && echo err>&2 && exit 1", &so, &se)
	check("Run stderr+rc: stdout", so.String(), "out \r\n")
	check("Run stderr+rc: stderr", se.String(), "err \r\n")
	check("Run stderr+rc: exit code", rc, 1)

	// masterzen/winrm opens its shells with WINRS_CODEPAGE 65001.
	out, _, rc, _ = client.RunWithString("echo café", "")
	check("non-ASCII, code page 65001", out, "café\r\n")

	out, _, rc, _ = client.RunWithString(winrm.Powershell("$PSVersionTable.PSVersion.Major"), "")
	check("Powershell -EncodedCommand: stdout", out, "5\r\n")
	check("Powershell -EncodedCommand: exit code", rc, 0)

	_, errOut, rc, _ = client.RunWithString(winrm.Powershell("Get-Item C:\\missing"), "")
	check("Powershell failing: CLIXML on stderr", strings.HasPrefix(errOut, "#< CLIXML\r\n<Objs "), true)
	check("Powershell failing: exit code", rc, 1)

	// stdin goes out in Send requests.
	out, _, rc, _ = client.RunWithString("more", "hello\r\n")
	check("RunWithString with stdin: stdout", out, "hello\r\n")
	check("RunWithString with stdin: exit code", rc, 0)

	_, errOut, rc, _ = client.RunWithString("frobnicate", "")
	check("unknown program: stderr", errOut,
		"'frobnicate' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n")
	check("unknown program: exit code", rc, 1)

	if failed > 0 {
		fmt.Printf("masterzen/winrm: %d failed\n", failed)
		os.Exit(1)
	}
	fmt.Println("masterzen/winrm: all checks passed")
}
