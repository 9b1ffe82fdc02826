# make demo: see examples/demo/run.sh (the local control plane, the operator, a real sidecar
# process playing the model pod, a stream of inference requests; Ctrl-C tears it all down).
.PHONY: demo

demo: $(NPM_STAMP) ## run the end-to-end demo on the local control plane (Ctrl-C to stop)
	examples/demo/run.sh
