"""What a check says it checked, in Korean: the labels the test cells and the hidden tests write.

The code cells are the same in both editions, so a test cell names what it checks in English
(``check.close(loss, 0.5, "the mean loss per sample")``); so do the hidden tests in
``autograde/hidden.py`` and the grader's tampering reasons (``autograde/tamper.py``,
``autograde/kernel.py``). :func:`autograde.messages.label` turns such a label into the learner's
language with this catalogue when the learner reads Korean.

Each key is an English label as the code writes it. ``{}`` stands for a value the code fills in
(an f-string's ``{shape}``); the Korean text takes the values in the same order (``{0}``,
``{1}`` where Korean puts them in another order). A value is itself translated when it is a
label of its own (``"3 steps on a model holding old gradients: the losses"``). A label that is
only code (``num_flat_features(torch.zeros(3, 10))``) needs no entry: it is shown as written.

``tests/test_messages_language.py`` finds every label in the notebooks' test cells and in the
hidden tests, and fails when one comes out with English words in it.
"""

from __future__ import annotations

KO: dict[str, str] = {
    # -- notebook 1: test cells ----------------------------------------------------------------
    "net(torch.randn(4, 1, 32, 32)): the 40 scores": "net(torch.randn(4, 1, 32, 32)): 점수 40개",
    "some below 0 (fc3's raw output)": "일부는 0보다 작음(fc3의 원시 출력)",
    "every score >= 0": "모든 점수가 0 이상",
    "parameter_shapes(layers)  # parameters only: BatchNorm's running statistics are buffers":
        "parameter_shapes(layers)  # 매개변수만: BatchNorm이 누적하는 통계는 버퍼입니다",
    "count_parameters(a Linear(4, 3) with a frozen bias)": "count_parameters(편향을 고정한 Linear(4, 3))",
    "count_parameters(nn.BatchNorm2d(4))  # its running statistics are buffers, not parameters":
        "count_parameters(nn.BatchNorm2d(4))  # 누적하는 통계는 매개변수가 아니라 버퍼입니다",
    # -- notebook 2 ----------------------------------------------------------------------------
    "mse_loss(output, target) vs nn.MSELoss": "mse_loss(output, target) 대 nn.MSELoss",
    "l1_loss(output, target) vs nn.L1Loss": "l1_loss(output, target) 대 nn.L1Loss",
    "True: backward() must reach the network": "True: backward()가 신경망까지 닿아야 합니다",
    "cross_entropy(logits of magnitude 1000)": "cross_entropy(크기가 1000인 로짓)",
    # -- notebook 3 ----------------------------------------------------------------------------
    "grad_fn_chain(net.fc3.bias, 5)  # a leaf": "grad_fn_chain(net.fc3.bias, 5)  # 말단 텐서",
    "grad_w vs autograd": "grad_w 대 autograd",
    "grad_b vs autograd": "grad_b 대 autograd",
    "the first call's weight gradient vs torch.autograd.grad": "첫 번째 호출의 가중치 변화도 대 torch.autograd.grad",
    "the weight gradient, on a model holding an earlier pass's, vs torch.autograd.grad":
        "이전 역전파의 변화도가 남은 모델에서 구한 가중치 변화도 대 torch.autograd.grad",
    "a second call, on the inputs 2 * xs": "입력 2 * xs로 한 두 번째 호출",
    "the first result, after more backward() calls on the model": "모델에서 backward()를 더 호출한 뒤의 첫 번째 결과",
    "the second result, after more backward() calls on the model": "모델에서 backward()를 더 호출한 뒤의 두 번째 결과",
    # -- notebook 4 ----------------------------------------------------------------------------
    "weight after sgd_step(..., lr=0.1) vs optim.SGD": "sgd_step(..., lr=0.1) 뒤의 가중치 대 optim.SGD",
    "bias after sgd_step(..., lr=0.1) vs optim.SGD": "sgd_step(..., lr=0.1) 뒤의 편향 대 optim.SGD",
    "layer.weight.is_leaf after the step": "갱신한 뒤의 layer.weight.is_leaf",
    "layer.weight after the step": "갱신한 뒤의 layer.weight",
    "the same tensor, updated in place": "제자리에서 갱신된 같은 텐서",
    "a new tensor": "새 텐서",
    "sgd_step on a layer whose bias has no gradient": "편향에 변화도가 없는 계층에 sgd_step",
    "a bias with no gradient after sgd_step: unchanged": "sgd_step 뒤 변화도가 없는 편향: 그대로",
    "a list of 3 losses": "손실 3개가 든 리스트",
    "the items of the list": "리스트의 항목",
    "Python floats (loss.item())": "Python float 값(loss.item())",
    "the 3 losses": "손실 3개",
    # -- notebook 5 ----------------------------------------------------------------------------
    "conv2d_output_size(8, 3, stride=2)  # an int, rounded down": "conv2d_output_size(8, 3, stride=2)  # 내림한 int",
    "conv2d_output_size(29, 3, stride=3)  # 26 / 3 = 8.67, rounded down to 8, plus 1":
        "conv2d_output_size(29, 3, stride=3)  # 26 / 3 = 8.67을 내림한 8에 1을 더합니다",
    "modules still holding hooks afterwards": "끝난 뒤에도 hook이 남아 있는 모듈",
    "trace_shapes(a Sequential inside a Sequential, (2, 1, 8, 8))  # layers only, no containers":
        "trace_shapes(Sequential 안의 Sequential, (2, 1, 8, 8))  # 컨테이너는 빼고 계층만",
    "hooks left after trace_shapes(Net(), (1, 1, 28, 28)) failed": "trace_shapes(Net(), (1, 1, 28, 28))가 실패한 뒤 남은 hook",
    # -- notebook 6 ----------------------------------------------------------------------------
    "x.shape for 5 images": "이미지 5장의 x.shape",
    "the values of x": "x의 값",
    "between 0 and 1": "0과 1 사이",
    "y for the first 5 images": "처음 이미지 5장의 y",
    "an image of 16s becomes all ones": "값이 모두 16인 이미지는 모두 1이 됩니다",
    "an image of 4s becomes all 0.25: divide by 16, not by the maximum":
        "값이 모두 4인 이미지는 모두 0.25가 됩니다: 최댓값이 아니라 16으로 나누세요",
    "x[0, 0, 2, 8:12] of the first image": "첫 이미지의 x[0, 0, 2, 8:12]",
    "the return value, a Python float (use loss.item())": "반환값, Python float(loss.item()을 쓰세요)",
    "small.training after train_one_epoch": "train_one_epoch 뒤의 small.training",
    "True (call model.train())": "True (model.train()을 호출하세요)",
    "the weights after one epoch": "에폭 한 번 뒤의 가중치",
    "the mean loss per sample (batches of 4, 4 and 2)": "샘플당 평균 손실(배치 크기 4, 4, 2)",
    "the return value, a Python float": "반환값, Python float",
    "accuracy of always-3 on 40 images, four of them 3s": "늘 3으로 예측하는 모델의 정확도(이미지 40장, 그중 3이 네 장)",
    "always_three.training during evaluate": "evaluate 중의 always_three.training",
    "False in every batch (call model.eval())": "모든 배치에서 False (model.eval()을 호출하세요)",
    "autograd during evaluate": "evaluate 중의 autograd",
    "off in every batch (torch.no_grad())": "모든 배치에서 꺼짐(torch.no_grad())",
    "accuracy on one image labelled 3": "레이블이 3인 이미지 한 장에 대한 정확도",
    # -- the hidden tests (autograde/hidden.py) ----------------------------------------------------
    "parameter names and shapes": "매개변수 이름과 모양",
    "load_state_dict(reference weights)": "load_state_dict(참조 구현의 가중치)",
    "output for a random input of shape {}": "모양이 {}인 무작위 입력의 출력",
    "loss for random tensors of shape {}": "모양이 {}인 무작위 텐서의 손실",
    "backpropagating through the loss": "손실을 거쳐 역전파하기",
    "a tensor that autograd can backpropagate through": "autograd가 역전파할 수 있는 텐서",
    "its gradient": "그 변화도",
    "large values": "큰 값",
    "shapes {} and {}": "모양 {} 및 {}",
    "num_flat_features of a tensor of shape {}": "모양이 {}인 텐서의 num_flat_features",
    "random logits [{}, {}]": "무작위 로짓 [{}, {}]",
    "logits of magnitude {}": "크기가 {}인 로짓",
    "4 logits, 5 labels": "로짓 4개, 레이블 5개",
    "labels of shape (4, 3)": "모양이 (4, 3)인 labels",
    "the course's loss": "이 과정 신경망의 손실",
    "(c * w).sum() where c needs no gradient (its input is None)": "(c * w).sum(), c에는 변화도가 필요 없음(그 입력은 None)",
    "grad_fn_chain({}, {})": "grad_fn_chain({}, {})",
    "a leaf tensor (no grad_fn)": "말단 텐서(grad_fn 없음)",
    "the return value: a pair (grad_w, grad_b)": "반환값: 쌍 (grad_w, grad_b)",
    "grad_w for x [{}, {}], w [{}, {}]": "x [{}, {}], w [{}, {}]일 때의 grad_w",
    "grad_b for x [{}, {}], w [{}, {}]": "x [{}, {}], w [{}, {}]일 때의 grad_b",
    "first call": "첫 번째 호출",
    "second call on the same model": "같은 모델로 한 두 번째 호출",
    "{}: the return value": "{}: 반환값",
    "{}: parameter names": "{}: 매개변수 이름",
    "{}: gradient of {}": "{0}: {1}의 변화도",
    "model holding old gradients: {}": "이전 변화도가 남은 모델: {}",
    "the first result after more passes on the model: {}": "모델을 더 실행한 뒤의 첫 번째 결과: {}",
    "{} after one step with lr={}": "lr={1}로 한 번 갱신한 뒤의 {0}",
    "{} after the step": "갱신한 뒤의 {}",
    "still a leaf parameter (update under torch.no_grad())": "여전히 말단 매개변수(torch.no_grad() 안에서 갱신하세요)",
    "the same tensors, updated in place": "제자리에서 갱신된 같은 텐서들",
    "{} steps": "{}단계",
    "{} steps on a model holding old gradients": "이전 변화도가 남은 모델로 {}단계",
    "a list of Python floats (loss.item())": "Python float 값의 리스트(loss.item())",
    "{}: the losses": "{}: 손실",
    "{}: {} afterwards": "{0}: 끝난 뒤의 {1}",
    "defaults: n=32, kernel=3": "기본값: n=32, kernel=3",
    "defaults: n=13, kernel=2": "기본값: n=13, kernel=2",
    "{} on {}": "{0}, 입력 모양 {1}",
    "hooks left on the model afterwards": "끝난 뒤 모델에 남은 hook",
    "hooks left after a forward pass that failed (Net on 28x28)": "실패한 순전파 뒤에 남은 hook(28x28 입력의 Net)",
    "{}: each batch": "{}: 각 배치",
    "moved to the device, x.to(device) and y.to(device), before it is used":
        "쓰기 전에 장치로 옮김: x.to(device), y.to(device)",
    "moved={}, labels moved={}": "입력 옮김={}, 레이블 옮김={}",
    "the first 20 digits of load_digits()": "load_digits()의 처음 숫자 20개",
    "{} random images with values 0..{}": "값이 0..{1}인 무작위 이미지 {0}장",
    "{}: the return value, a pair (x, y)": "{}: 반환값, 쌍 (x, y)",
    "{}: x": "{}: x",
    "{}: y": "{}: y",
    "{}: x.dtype": "{}: x.dtype",
    "{}: y.dtype": "{}: y.dtype",
    "{}: the shape of x": "{}: x의 모양",
    "{}: the values of x": "{}: x의 값",
    "{}: the labels y": "{}: 레이블 y",
    "the course's Net, batches of 8, 8 and 4": "이 과정의 Net, 배치 크기 8, 8, 4",
    "load_state_dict(seeded weights)": "load_state_dict(시드로 정한 가중치)",
    "a model with dropout, left in eval mode": "드롭아웃이 있고 평가 모드로 남아 있는 모델",
    "a model holding old gradients": "이전 변화도가 남은 모델",
    "{}: the return value, a Python float (use loss.item())": "{}: 반환값, Python float(loss.item()을 쓰세요)",
    "{}: model.training afterwards": "{}: 끝난 뒤의 model.training",
    "{}: {} after the epoch": "{0}: 에폭 뒤의 {1}",
    "{}: the mean loss of the epoch": "{}: 에폭의 평균 손실",
    "{} samples: the return value, a Python float": "샘플 {}개: 반환값, Python float",
    "{} samples in batches of {}, {} predicted right": "샘플 {0}개, 배치 크기 {1}, 맞힌 예측 {2}개",
    "the model's mode during evaluate": "evaluate 중 모델의 모드",
    "eval mode in every forward pass (model.eval())": "모든 순전파에서 평가 모드(model.eval())",
    "off in every forward pass (torch.no_grad())": "모든 순전파에서 꺼짐(torch.no_grad())",
    "grad enabled={}": "변화도 기록={}",
    # -- tampering: what reading the code found (autograde/tamper.py) ------------------------------
    "imports {}": "{} 가져오기",
    "changes {} with {}()": "{1}()로 {0} 바꾸기",
    "redirects the standard streams ({})": "표준 스트림 방향 바꾸기({})",
    "searches the interpreter's objects ({})": "인터프리터의 객체 뒤지기({})",
    "replaces {}": "{} 바꿔치기",
    "redefines {}": "{} 다시 정의하기",
    "reaches into sys.modules": "sys.modules 건드리기",
    # -- tampering: what the run-time watch found changed (autograde/kernel.py) ----------------------
    "the standard output": "표준 출력",
    "the standard error stream": "표준 오류 스트림",
    "the name {} set by a locked cell": "잠긴 셀이 정한 이름 {}",
    "the grading shell's {}": "채점 셸의 {}",
    "{} taken from {}": "{1}에서 가져온 {0}",
}
