"""The Korean words the sample's pages print: titles, field labels, table items and prose, drawn from the page's
seeded rng. A fixed vocabulary of what real Korean medical, insurance and vehicle paperwork says, so that the OCR
on the sample meets dense Hangul in several fonts, not a few sparse English words."""
from __future__ import annotations

import numpy as np

# the form family (classes 3, 4, 7, 14): the same form under different titles, with the variants real hospitals use
FAMILY_TITLES = {
    3: ("입퇴원확인서", "입·퇴원 확인서", "입원사실확인서", "입퇴원 사실 확인서", "입원확인서"),
    4: ("진단서", "진 단 서", "일반진단서"),
    7: ("진료확인서", "통원진료확인서", "통원확인서", "진 료 확 인 서", "외래진료확인서"),
    14: ("소견서", "의사소견서", "진료소견서", "소 견 서"),
}
SURNAMES = list("김이박최정강조윤장임한오서신권황안송류홍")
GIVEN = list("민서지현준우영수진호예은하윤도성재희경태승연혜주")
PLACES = "서울 한빛 새봄 중앙 연세 미래 우리 성모 참 늘푸른 희망 바른 튼튼 행복 제일 동산 한마음".split()
CITIES = ("서울특별시 강남구 테헤란로", "부산광역시 해운대구 센텀로", "경기도 성남시 분당구 정자로", "대구광역시 중구 동덕로",
          "인천광역시 남동구 예술로", "광주광역시 서구 상무대로", "대전광역시 유성구 대학로", "경기도 수원시 팔달구 중부대로")
PATIENT = ("성명 주민등록번호 생년월일 성별 연령 주소 연락처 전화번호 병록번호 환자번호 진료과 병실 담당의 주치의 발행일 "
           "용도 비고 보험유형 발병일 초진일").split()  # the family's patient block: no words of a title
LABELS = ("성명 주민등록번호 생년월일 성별 연령 주소 연락처 전화번호 병록번호 환자번호 진료과 병실 담당의 주치의 발행일 "
          "용도 비고 상병명 질병분류기호 진료기간 입원일 퇴원일 수술명 수술일자 치료내용 향후치료의견 발병일 진단일 "
          "초진일 보험유형 등록번호 사업장 계약자 피보험자 증권번호").split()
WORDS = ("환자 진료 치료 수술 검사 처방 투약 주사 처치 보험 청구 제출 금액 본인부담 공단부담 "
         "합계 소계 진찰 상병 경과 관찰 요망 안정 가료 필요 예정 판단 추정 최종 임상적 병명 부위 좌측 우측 "
         "요추 경추 골절 염좌 급성 만성 위염 장염 폐렴 고혈압 당뇨 관절 통증 재활 물리치료 약물치료 정기 내원 "
         "확인 증명 발급 기재 사실 위와 같이 상기 본인 해당 기간 동안 이상 이하 여백 결과 의견 기타 특이사항 없음").split()
PHRASES = ("위와 같이 진료하였음을 확인합니다", "상기 환자는 위와 같이 치료를 받았음을 증명합니다", "위의 기재사항이 사실임을 확인합니다",
           "본 증명서는 보험 청구용으로 발급합니다", "향후 약 2주간의 안정 가료를 요함", "경과 관찰 및 정기적인 내원 치료가 필요함",
           "상기 상병으로 수술적 치료를 시행함", "추가 검사 결과에 따라 치료 기간이 연장될 수 있음", "이하 여백",
           "위 사항은 진료기록부에 근거하여 작성함", "제출처 외의 용도로는 사용할 수 없음")
FEES = ("진찰료 입원료 식대 투약및조제료 주사료 마취료 처치및수술료 검사료 영상진단료 방사선치료료 치료재료대 "
        "재활및물리치료료 정신요법료 CT진단료 MRI진단료 초음파진단료 보철교정료 선택진료료 상급병실료 기타").split()
PHARMACY = "조제료 약품비 복약지도료 의약품관리료 약국관리료 조제기본료 가산금 본인부담금 보험자부담금 비급여".split()
DRUGS = ("타이레놀정500mg 아모크라정 록소프로펜정 알마겔현탁액 무코스타정 세파클러캡슐 뮤테란캡슐 에페리손정 "
         "아세트아미노펜정 레바미피드정 스티렌정 리리카캡슐 코대원정 슈다페드정 페니라민정 오구멘틴정").split()
VEHICLE = ("자동차등록번호 차종 용도 차명 형식및모델연도 차대번호 원동기형식 사용본거지 소유자 최초등록일 제원관리번호 "
           "길이 너비 높이 총중량 배기량 정격출력 승차정원 최대적재량 연료의종류 검사유효기간").split()
RESUME = ("학력사항 경력사항 자격사항 어학능력 병역사항 자기소개 대학교 졸업 고등학교 입학 재직 퇴사 주임 대리 과장 "
          "영업부 관리팀 개발팀 운전면허 정보처리기사 컴퓨터활용능력 토익 성실 책임감 협업 경험 담당 업무").split()
PLATE = list("가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주하허호")


def pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def name(rng: np.random.Generator) -> str:
    return pick(rng, SURNAMES) + pick(rng, GIVEN) + pick(rng, GIVEN)


def digits(rng: np.random.Generator, n: int) -> str:
    return "".join(map(str, rng.integers(0, 10, size=n)))


def date(rng: np.random.Generator, style: int = 0) -> str:
    y, m, d = int(rng.integers(2015, 2025)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    return f"{y}년 {m:02d}월 {d:02d}일" if style else f"{y}.{m:02d}.{d:02d}"


def amount(rng: np.random.Generator) -> str:
    return f"{int(rng.integers(1, 900)) * 100 + int(rng.integers(0, 10)) * 10:,}"


def words(rng: np.random.Generator, n: int) -> str:
    return " ".join(pick(rng, WORDS) for _ in range(n))


def value(rng: np.random.Generator) -> str:
    """What a form's value cell holds: a name, a date, a number, an amount or a few words."""
    kind = int(rng.integers(5))
    return (name(rng), date(rng), f"{digits(rng, 6)}-{digits(rng, 7)}", amount(rng), words(rng, 2))[kind]


def hospital(rng: np.random.Generator) -> str:
    return pick(rng, PLACES) + pick(rng, ("병원", "의원", "의료원", "정형외과의원", "내과의원", "한방병원"))


def address(rng: np.random.Generator) -> str:
    return f"{pick(rng, CITIES)} {int(rng.integers(1, 400))}"
